"""The thin DoFns never let one bad message stop the stream: each failure is a dead letter."""

from datetime import UTC, datetime, timedelta, timezone

from apache_beam import pvalue
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.utils.timestamp import Timestamp

from firewatch.beam.sources import ParsePubsubMessages, as_utc_datetime
from firewatch.core.contract import MessageLimits

T = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def test_publish_time_in_every_form_the_runners_use():
    assert as_utc_datetime(T) == T
    assert as_utc_datetime(T.astimezone(timezone(timedelta(hours=2)))) == T
    assert as_utc_datetime(Timestamp.from_utc_datetime(T)) == T
    assert as_utc_datetime(None) is None


def test_parse_turns_contract_errors_and_surprises_into_dead_letters():
    fn = ParsePubsubMessages(MessageLimits())
    ok = list(fn.process(PubsubMessage(b"\x89PNG....", {"camera_id": "c"}, message_id="1", publish_time=T)))
    assert ok[0].publish_time == T and ok[0].message_id == "1"
    bad = list(fn.process(PubsubMessage(b"", {"camera_id": "c"}, message_id="2")))
    assert isinstance(bad[0], pvalue.TaggedOutput) and bad[0].value["error_type"] == "empty_data"
    weird = list(fn.process(PubsubMessage(b"x", {"camera_id": "c"}, message_id="3", publish_time="not a time")))
    assert weird[0].value["stage"] == "validate" and weird[0].value["error_type"] == "ValueError"


def test_preview_is_the_original_frame_scaled_down():
    import io

    import numpy as np
    from PIL import Image

    from firewatch.beam.postprocess import preview_pixels

    buffer = io.BytesIO()
    Image.fromarray(np.full((900, 1600, 3), (200, 80, 10), np.uint8)).save(buffer, format="JPEG")
    preview = preview_pixels(buffer.getvalue())
    assert preview.shape == (360, 640, 3) and abs(int(preview[0, 0, 0]) - 200) < 8
    assert preview_pixels(b"not an image") is None and preview_pixels(None) is None


def test_cli_errors_a_user_can_cause(tmp_path, capsys):
    from firewatch.cli import main

    assert main(["batch", "--model", str(tmp_path), "--input", str(tmp_path / "none"), "--output", "o"]) == 2
    assert "no files match" in capsys.readouterr().err
    (tmp_path / "x.png").write_bytes(b"x")
    assert main(["batch", "--model", str(tmp_path), "--input", str(tmp_path), "--output", "o"]) == 2
    assert "is not an exported Firewatch model" in capsys.readouterr().err
    import pytest

    with pytest.raises(SystemExit):
        main(["batch", "--model", "m", "--input", "i", "--output", "o", "--confirm-k", "3"])
    assert "firewatch batch: error: unknown flag --confirm-k" in capsys.readouterr().err


def test_cloud_errors_and_bad_project_ids_are_explained():
    from google.api_core.exceptions import Forbidden
    from google.auth.exceptions import DefaultCredentialsError

    from firewatch.cli.dispatch import cloud_error_hint

    assert "application-default login" in cloud_error_hint(DefaultCredentialsError("none"))
    hint = cloud_error_hint(Forbidden("caller lacks bigquery.jobs.create"))
    assert "403 Forbidden" in hint and "bigquery.jobs.create" in hint
    assert cloud_error_hint(KeyError("a bug")) is None


def test_query_with_an_invalid_project_says_so(capsys):
    from firewatch.cli import main

    assert main(["query", "fire-rate", "--project", "My_Bad"]) == 2
    assert "--project My_Bad" in capsys.readouterr().err


def test_bq_input_rows_are_spread_over_workers_by_a_reshuffle():
    """The bq: source emits every row from one DoFn call; the requests must pass a Reshuffle
    (a fusion break) before scoring, or the whole job runs on one worker (issue 21, item 12)."""
    import apache_beam as beam

    from firewatch.beam.sources import ReadFrames

    pipeline = beam.Pipeline()
    read = pipeline | ReadFrames("bq:SELECT uri FROM `p.d.frames`", MessageLimits(), None, "p")
    _ = read["requests"] | "Score" >> beam.Map(lambda request: request)
    components = pipeline.to_runner_api().components
    leaves = {t.unique_name: t for t in components.transforms.values() if not t.subtransforms}
    producer = {out: name for name, t in leaves.items() for out in t.outputs.values()}
    path, name = [], "Score"
    while not name.endswith("QueryUris/ParDo(QueryUris)"):  # walk back from scoring to the query
        name = producer[next(iter(leaves[name].inputs.values()))]
        path.append(name)
    assert any("SpreadQueryRows/" in step for step in path), path
