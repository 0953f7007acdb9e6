"""Dead letters in the Beam layer: the tagged output every step uses, and the Pub/Sub form.

Each failure of any step becomes exactly one dead-letter row (`firewatch.core.rows`) on the
output tagged `DEAD`, so every input is a prediction or a dead letter. In streaming, dead
letters are also published with the original payload and attributes, ready to replay.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from apache_beam import pvalue
from apache_beam.io.gcp.pubsub import PubsubMessage

from firewatch.core.contract import FrameRequest
from firewatch.core.rows import dead_letter_for_request, dead_letter_row

DEAD = "dead_letter"


def dead_letter(**fields: Any) -> pvalue.TaggedOutput:
    """A dead-letter row on the DEAD output (fields as for `firewatch.core.rows.dead_letter_row`)."""
    return pvalue.TaggedOutput(DEAD, dead_letter_row(**fields))


def request_dead_letter(request: FrameRequest, **fields: Any) -> pvalue.TaggedOutput:
    """The dead letter of a validated frame that failed later (see `dead_letter_for_request`)."""
    return pvalue.TaggedOutput(DEAD, dead_letter_for_request(request, **fields))


def dead_letter_message(row: dict[str, Any]) -> PubsubMessage:
    """A dead letter for the dead-letter topic: the original payload and attributes (so a fixed
    message can be replayed to the frames topic) plus why it was rejected."""
    attributes = json.loads(row["attributes_json"]) if row.get("attributes_json") else {}
    attributes.update(
        firewatch_stage=row["stage"],
        firewatch_reason=row["reason"][:1000],  # Pub/Sub attribute values are at most 1024 bytes
        firewatch_error_type=row.get("error_type") or "",
    )
    if row.get("payload_base64"):
        data = base64.b64decode(row["payload_base64"])
    else:  # payload too large to keep, or a failure after the payload was dropped: the row itself
        data = json.dumps(row, sort_keys=True).encode("utf-8")
    return PubsubMessage(data, attributes)
