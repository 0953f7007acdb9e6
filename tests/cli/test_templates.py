"""The committed flex-template metadata matches the job configs (run `firewatch template`)."""

import pytest

from firewatch.cli.templates import TEMPLATE_DIR, metadata, render


@pytest.mark.parametrize("job", ["streaming", "batch"])
def test_committed_metadata_is_current(job):
    assert (TEMPLATE_DIR / f"{job}-metadata.json").read_text() == render(job), "run: firewatch template"


def test_streaming_template_requires_only_the_model():
    params = metadata("streaming")["parameters"]
    # model or model_registry: the config requires exactly one of them, so neither is required alone
    assert [p["name"] for p in params if not p["isOptional"]] == []
    assert {"model", "model_registry"} <= {p["name"] for p in params}
    assert metadata("streaming")["streaming"] is True and metadata("batch")["streaming"] is False
