"""Flex-template entry point of the batch job (FLEX_TEMPLATE_PYTHON_PY_FILE)."""

import sys

from firewatch.cli.dispatch import main

if __name__ == "__main__":
    sys.exit(main(["batch", *sys.argv[1:]]))
