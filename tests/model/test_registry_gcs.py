"""The registry on gs:// (the local stack's Cloud Storage emulator): the commands and the running job's
pointer read work there as on a local folder, and a data folder on gs:// is hashed into the lineage."""

from __future__ import annotations

import hashlib

import pytest

from firewatch.beam.model_follower import _read_pointer
from firewatch.cli.dispatch import main
from firewatch.cloud import registry as store
from firewatch.cloud.clients import prepare_beam_offline_auth, storage_client
from firewatch.core.registry import CURRENT
from tests.model.test_registry import fake_export

pytestmark = pytest.mark.stack


def test_the_registry_commands_on_gcs(gcp_resources, tmp_path, capsys) -> None:
    prepare_beam_offline_auth()
    bucket = storage_client().bucket(gcp_resources.frames_bucket)
    bucket.blob("data/train-00000.tfrecord").upload_from_string(b"records")
    registry = f"{gcp_resources.bucket_uri()}/registry"
    no_table = ["--model-versions-table", ""]
    for name, recall in (("g1", 0.9), ("g2", 0.92)):
        model_dir = fake_export(tmp_path / name, name, recall, 0.8)
        data = ["--data", f"{gcp_resources.bucket_uri()}/data"]
        assert main(["model", "register", registry, str(model_dir), *data, *no_table]) == 0
    assert store.list_versions(registry) == ["g1", "g2"]
    assert bucket.blob("registry/g1/saved_model.pb").download_as_bytes() == b"graph of g1"
    lineage = store.read_lineage(registry, "g2")
    assert [(d["path"].rsplit("/", 1)[-1], d["sha256"]) for d in lineage["data"]] == [
        ("train-00000.tfrecord", hashlib.sha256(b"records").hexdigest())
    ]
    assert main(["model", "promote", registry, "g1", *no_table]) == 0
    assert main(["model", "promote", registry, "g2", *no_table]) == 0
    assert _read_pointer(registry, CURRENT) == "g2"  # what a running job reads
    assert main(["model", "rollback", registry, *no_table]) == 0
    assert _read_pointer(registry, CURRENT) == "g1"
    assert bucket.blob("registry/current").download_as_bytes() == b"g1\n"
    capsys.readouterr()
    assert main(["model", "versions", registry]) == 0
    assert "g1" in capsys.readouterr().out
