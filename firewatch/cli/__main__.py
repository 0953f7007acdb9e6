"""`python -m firewatch.cli ...`: the same as the `firewatch` command."""

import sys

from firewatch.cli.dispatch import main

sys.exit(main())
