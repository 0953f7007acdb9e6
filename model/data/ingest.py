"""Ingest job (Apache Beam): labelled images -> sharded TFRecords split train/valid/test.

Reads `INPUT/<label>/*.{jpg,jpeg,png}` (local or gs://), verifies every file under INPUT
(bad or misplaced ones are reported with the reason and left out), de-duplicates by content hash, and writes
`OUTPUT/{train,valid,test}-SSSSS-of-NNNNN.tfrecord` holding the *encoded* bytes plus
`OUTPUT/ingest_summary.json` (counts per split and label, rejected files and why). The
same pipeline runs locally (default: SwitchingDirectRunner, no Prism download) and with
`--runner DataflowRunner`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from firewatch.cloud.storage import is_remote
from firewatch.core.records import SHARD_TEMPLATE, SPLITS, TFRECORD_SUFFIX, make_example, split_for_id
from model.config import IngestConfig
from model.data.sources import Rejection, VerifiedImage, list_images, read_and_verify

SUMMARY_NAME = "ingest_summary.json"
MAX_LISTED_REJECTIONS = 1000
DEFAULT_LOCAL_RUNNER = "SwitchingDirectRunner"


def resolve_duplicates(id_: str, images: Iterable[VerifiedImage]) -> Iterable[VerifiedImage | Rejection]:
    """Keep one copy of identical images; identical images under different labels are all rejected."""
    copies = sorted(images, key=lambda im: im.source_path)
    labels = {im.label for im in copies}
    if len(labels) > 1:
        for im in copies:
            yield Rejection(im.source_path, f"same image content labelled {sorted(labels)} (id {id_[:12]})")
        return
    yield copies[0]
    for im in copies[1:]:
        yield Rejection(im.source_path, f"duplicate of {copies[0].source_path}")


def to_record(image: VerifiedImage) -> tuple[str, bytes]:
    """(split, serialized Example) for a verified image."""
    example = make_example(image.encoded, image.format, image.label, image.source_path, image.id)
    return split_for_id(image.id), example


def build_summary(
    counts: Sequence[tuple[tuple[str, str], int]],
    rejections: Sequence[dict[str, str]],
    listed: int,
    input_root: str,
    output: str,
) -> dict:
    per_split = {s: {"fire": 0, "no_fire": 0, "total": 0} for s in SPLITS}
    for (split, label), n in counts:
        per_split[split][label] += n
        per_split[split]["total"] += n
    rejections = sorted(rejections, key=lambda r: r["path"])
    reasons = Counter(r["reason"].split(":")[0] for r in rejections)
    return {
        "input": input_root,
        "output": output,
        "files_listed": listed,
        "images_written": sum(v["total"] for v in per_split.values()),
        "splits": per_split,
        "rejected_count": len(rejections),
        "rejected_by_reason": dict(reasons.most_common()),
        "rejected": rejections[:MAX_LISTED_REJECTIONS],
    }


class _Verify(beam.DoFn):
    REJECTED = "rejected"

    def __init__(self, root: str):
        super().__init__()
        self.root = root

    def process(self, path: str):
        result = read_and_verify(path, self.root)
        if isinstance(result, Rejection):
            yield beam.pvalue.TaggedOutput(self.REJECTED, result.as_dict())
        else:
            yield result


def pipeline_options(config: IngestConfig) -> PipelineOptions:
    options = PipelineOptions(config.pipeline_args())
    std = options.view_as(StandardOptions)
    if not std.runner:
        std.runner = DEFAULT_LOCAL_RUNNER
    setup = options.view_as(SetupOptions)
    if "dataflow" in str(std.runner).lower() and not setup.setup_file:
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # model/data/ -> repo
        repo_setup = os.path.join(repo, "setup.py")
        if os.path.isfile(repo_setup):
            setup.setup_file = repo_setup  # workers need the firewatch + model packages
    setup.save_main_session = False
    return options


def build_pipeline(p: beam.Pipeline, paths: list[str], config: IngestConfig) -> None:
    out = config.output
    verified = (
        p
        | "ListedFiles" >> beam.Create(paths)
        | "Spread" >> beam.Reshuffle()
        | "ReadAndVerify" >> beam.ParDo(_Verify(config.input)).with_outputs(_Verify.REJECTED, main="images")
    )
    resolved = (
        verified.images
        | "KeyById" >> beam.Map(lambda im: (im.id, im))
        | "GroupById" >> beam.GroupByKey()
        | "Dedupe" >> beam.FlatMap(lambda kv: resolve_duplicates(*kv))
    )
    images = resolved | "KeepImages" >> beam.Filter(lambda x: isinstance(x, VerifiedImage))
    duplicates = (
        resolved
        | "KeepDuplicates" >> beam.Filter(lambda x: isinstance(x, Rejection))
        | "DupAsDict" >> beam.Map(lambda r: r.as_dict())
    )
    rejected = (verified.rejected, duplicates) | "AllRejections" >> beam.Flatten()
    records = images | "ToExample" >> beam.Map(to_record)
    for split in SPLITS:
        (
            records
            | f"Only{split.title()}" >> beam.Filter(lambda rec, s=split: rec[0] == s)
            | f"Bytes{split.title()}" >> beam.Map(lambda rec: rec[1])
            | f"Write{split.title()}"
            >> beam.io.WriteToTFRecord(
                f"{out}/{split}",
                file_name_suffix=TFRECORD_SUFFIX,
                num_shards=config.num_shards,
                shard_name_template=SHARD_TEMPLATE,
            )
        )
    counts = (
        images
        | "SplitLabel" >> beam.Map(lambda im: (split_for_id(im.id), im.label))
        | "CountPerSplitLabel" >> beam.combiners.Count.PerElement()
    )
    (
        p
        | "One" >> beam.Create([None])
        | "Summarize"
        >> beam.Map(
            lambda _, c, r: json.dumps(build_summary(c, r, len(paths), config.input, out), indent=2),
            beam.pvalue.AsList(counts),
            beam.pvalue.AsList(rejected),
        )
        | "WriteSummary" >> beam.io.WriteToText(f"{out}/{SUMMARY_NAME}", shard_name_template="", num_shards=1)
    )


def run_ingest(config: IngestConfig) -> dict:
    """Run the pipeline to completion and return the summary it wrote."""
    from apache_beam.io.filesystems import FileSystems

    paths = list_images(config.input)
    if not paths:
        raise FileNotFoundError(
            f"no files found under {config.input}/; expected {config.input}/fire/*.jpg and {config.input}/no_fire/*.jpg"
        )
    if not is_remote(config.output):
        os.makedirs(config.output, exist_ok=True)
    with beam.Pipeline(options=pipeline_options(config)) as p:
        build_pipeline(p, paths, config)
    with FileSystems.open(f"{config.output}/{SUMMARY_NAME}") as f:
        return json.loads(f.read().decode())


def format_summary(summary: dict) -> str:
    lines = [
        f"ingest: {summary['files_listed']} files listed, {summary['images_written']} images written "
        f"to {summary['output']}"
    ]
    for split, c in summary["splits"].items():
        lines.append(f"  {split:<5}  total {c['total']:>6}   fire {c['fire']:>6}   no_fire {c['no_fire']:>6}")
    lines.append(f"  rejected: {summary['rejected_count']}")
    for r in summary["rejected"][:20]:
        lines.append(f"    {r['path']}: {r['reason']}")
    if summary["rejected_count"] > 20:
        lines.append(f"    ... {summary['rejected_count'] - 20} more in {summary['output']}/{SUMMARY_NAME}")
    return "\n".join(lines)
