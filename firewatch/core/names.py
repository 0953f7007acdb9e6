"""Resource name facts, declared once: the Cloud Storage bucket-name rule and "a name or a `projects/...` path".

Pure (no Google Cloud): the core's message contract, the configs, the console and `infra.resources` all take
the bucket pattern and `resource_path` from here, so no module spells either again.
"""

from __future__ import annotations

import re

# A bucket name: lowercase letters, digits, `-`, `_`, `.`; starts and ends with a letter or digit; 3-63 chars,
# or up to 222 when dotted (each dot-separated part at most 63). `BUCKET_NAME` is the unanchored body.
BUCKET_NAME = r"[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]"
BUCKET_NAME_PATTERN = re.compile(rf"^{BUCKET_NAME}\Z")
_SHORT_BUCKET_MAX = 63
_BUCKET_PART_MAX = 63


def is_bucket_name(value: str) -> bool:
    """Whether `value` is a valid Cloud Storage bucket name (the rule above; no `..`)."""
    if not BUCKET_NAME_PATTERN.match(value) or ".." in value:
        return False
    if "." not in value:
        return len(value) <= _SHORT_BUCKET_MAX
    return all(len(part) <= _BUCKET_PART_MAX for part in value.split("."))


def check_bucket_name(value: str) -> str:
    """`value` when it is a valid bucket name, else ValueError saying what one looks like."""
    if not is_bucket_name(value):
        raise ValueError(f"{value!r} is not a valid bucket name (3-63 chars: lowercase, digits, - _ .)")
    return value


def resource_path(kind: str, name: str, project: str, location: str | None = None) -> str:
    """The full resource name of `name` ("frames" -> "projects/P/topics/frames"); a `projects/...` path as given.

    `kind` is the collection ("topics", "subscriptions", "endpoints", ...); `location` adds
    `locations/L/` for regional resources (Vertex AI).
    """
    if name.startswith("projects/"):
        return name
    where = f"projects/{project}/locations/{location}" if location else f"projects/{project}"
    return f"{where}/{kind}/{name}"
