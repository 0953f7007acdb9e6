"""Secret references in the notifier's config file, and their resolution at start-up.

A secret is never written in the file: it is `${ENV_VAR}` (read from the environment) or
`sm://projects/P/secrets/S/versions/V` (read from Secret Manager with
google-cloud-secret-manager, which the images install). A literal value where a secret is
expected is refused when the file is read, with the field's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from firewatch.errors import ConfigError

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
SM_REF = re.compile(r"^sm://(projects/[^/\s]+/secrets/[^/\s]+/versions/[^/\s]+)$")


def is_reference(value: str) -> bool:
    return bool(ENV_REF.match(value) or SM_REF.match(value))


def check_reference(value: str, field: str) -> str:
    """`value` when it is a secret reference; a ConfigError naming `field` otherwise."""
    if not is_reference(value):
        raise ValueError(
            f"{field} must not be written in the config file: use ${{ENV_VAR}} or "
            "sm://projects/PROJECT/secrets/NAME/versions/latest"
        )
    return value


def secret_manager_reader(name: str) -> str:
    """The payload of Secret Manager version `name` (projects/P/secrets/S/versions/V)."""
    from google.cloud import secretmanager

    client = secretmanager.SecretManagerServiceClient()
    return client.access_secret_version(name=name).payload.data.decode("utf-8")


def resolve(
    value: str,
    *,
    environ: dict[str, str] | None = None,
    read_secret: Callable[[str], str] = secret_manager_reader,
) -> str:
    """A reference's value (a plain value is returned as it is). Missing ones are ConfigErrors."""
    env = os.environ if environ is None else environ
    match = ENV_REF.match(value)
    if match:
        name = match.group(1)
        if name not in env or env[name] == "":
            raise ConfigError(f"environment variable {name} (referenced in the notify config) is not set")
        return env[name]
    match = SM_REF.match(value)
    if match:
        try:
            return read_secret(match.group(1))
        except Exception as exc:  # noqa: BLE001 - any failure is a start-up error with its cause
            raise ConfigError(f"cannot read secret {match.group(1)} from Secret Manager: {exc}") from exc
    return value
