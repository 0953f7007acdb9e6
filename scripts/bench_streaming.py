"""Streaming benchmark on the local stack: prints a table and writes a JSON file, asserts nothing.

In one run, on this machine:
  * the ceiling: decode + cutting the frame's regions + the float signature (`predict_images`)
    over them at the pipeline's batch size, frames/s, measured in this process before any
    pipeline starts and again after them (the better of the two is used: other jobs share the
    machine);
  * the frames: `--frames synthetic` (192-px procedural pictures, scored whole) or `--frames
    1080p` (held-out real photographs at 1920 x 1080, fire frames with a pasted procedural flame:
    66 regions each);
  * for each explanation setting (on, off), a fresh `firewatch stream` process on a fresh stack
    (emulators in a temporary state dir, stopped at the end) with the demo model, given
      - steady: CAMERAS cameras x FPS frames/s for SECONDS s in real time, camera 0 with a fire
        episode in the middle;
      - burst: BURST frames published at once (2 cameras, one all fire);
  * per load: sustained frames/s publish -> prediction row (and its ratio to the ceiling),
    publish -> row latency p50/p95/p99 (the row's processed_at - publish_time, and the time the
    last row became visible in BigQuery), publish -> alert latency measured from the publish time
    of the k-th fire frame of the fire camera to the moment the 'open' alert reached a
    subscriber of the alert topic, explanations written, and the peak RSS of the pipeline's
    process group.

    .venv/bin/python scripts/bench_streaming.py [--model artifacts/demo-model] [--seconds 60]
        [--cameras 8] [--fps 2] [--burst 600] [--frames synthetic|1080p] [--explain on off]
        [--json artifacts/bench-streaming.json]

The machine is shared (other jobs use its cores): re-run when a figure looks disturbed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


# --- the ceiling -----------------------------------------------------------------------------------


def measure_ceiling(model_dir: Path, frames: list[bytes], batch: int) -> dict[str, float]:
    """What one process can do at most, per frame, best of 3 passes: decode + cutting the frame's
    regions (`firewatch.core.regions`, the pipeline's default settings: a 1080p frame is 66 regions,
    a small one is 1), then `predict_images` over the regions at `batch` model inputs per call."""
    from firewatch.cloud.models import load_exported
    from firewatch.core.imaging import decode_image
    from firewatch.core.regions import RegionConfig, plan_regions, region_inputs

    model = load_exported(str(model_dir))
    size = model.metadata.image_size

    def cut(data: bytes) -> np.ndarray:
        pixels = decode_image(data).pixels
        return region_inputs(pixels, plan_regions(pixels.shape[1], pixels.shape[0], size, RegionConfig()), size)

    inputs = [cut(f) for f in frames]  # warm-up
    decode_s = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        inputs = [cut(f) for f in frames]
        decode_s = min(decode_s, (time.perf_counter() - start) / len(frames))
    stacked = np.concatenate(inputs).astype(np.float32)
    n = max(len(stacked) // batch * batch, min(batch, len(stacked)))
    model.predict_images(stacked[:batch])
    infer_s = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for s in range(0, n, batch):
            model.predict_images(stacked[s : s + batch])
        infer_s = min(infer_s, (time.perf_counter() - start) / n)
    regions = len(stacked) / len(frames)
    return {
        "decode_regions_ms": decode_s * 1000,
        "predict_ms_per_region": infer_s * 1000,
        "regions_per_frame": regions,
        "batch": batch,
        "frames_per_s": 1.0 / (decode_s + regions * infer_s),
    }


def frame_pool(kind: str, rng: np.random.Generator) -> dict[bool, list[bytes]]:
    """Frames to publish: `synthetic` 192-px procedural pictures (PNG, scored whole), or `1080p`
    held-out real photographs at 1920 x 1080 (JPEG, ~0.3-0.6 MB), fire frames with a procedural flame
    of 6-12 % of the frame's height pasted in (`model.data.composite`)."""
    if kind == "synthetic":
        from model.data.synth import render_fire_frame, render_negative_frame

        return {
            True: [png(render_fire_frame(rng)[0]) for _ in range(32)],
            False: [png(render_negative_frame(rng)) for _ in range(32)],
        }
    from model.data.composite import composite_flame, random_placement
    from model.demo import REAL_NEGATIVES_TRAIN
    from model.evaluation.small_fire import load_frames

    photos = [pixels for _, pixels in load_frames(REAL_NEGATIVES_TRAIN.parent / "heldout")][:16]
    if not photos:
        raise SystemExit("no held-out real photographs: run `make real-negatives` first")
    fire = []
    for i, photo in enumerate(photos):
        height = float(rng.uniform(0.06, 0.12))
        x, base = random_placement(rng, height)
        fire.append(jpeg(composite_flame(photo, [7, i], height=height, x=x, base=base).pixels))
    return {True: fire, False: [jpeg(photo) for photo in photos]}


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# --- watching the pipeline -------------------------------------------------------------------------


class RssSampler(threading.Thread):
    """Peak resident memory (sum over the process group), sampled every `every` s."""

    def __init__(self, pgid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pgid, self.every, self.peak_mb = pgid, every, 0.0
        self._stop = threading.Event()

    def run(self) -> None:
        from infra import procs

        while not self._stop.wait(self.every):
            total = 0
            for pid in procs.group_members(self.pgid):
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                except (FileNotFoundError, ProcessLookupError):
                    continue
            self.peak_mb = max(self.peak_mb, total / 1024)

    def stop(self) -> None:
        self._stop.set()


class AlertWatcher:
    """Streaming-pulls the alert subscription; records when each event arrived (wall clock)."""

    def __init__(self, project: str, subscription: str) -> None:
        from firewatch.cloud.clients import subscriber_client

        self.events: list[tuple[float, dict[str, Any]]] = []
        self._subscriber = subscriber_client()
        path = self._subscriber.subscription_path(project, subscription)
        self._future = self._subscriber.subscribe(path, callback=self._on_message)

    def _on_message(self, message) -> None:
        message.ack()
        try:
            event = json.loads(message.data)
        except ValueError:
            return
        self.events.append((time.time(), event))

    def first(self, camera: str, event: str = "open") -> float | None:
        times = [t for t, e in self.events if e.get("camera_id") == camera and e.get("event") == event]
        return min(times) if times else None

    def close(self) -> None:
        self._future.cancel()
        try:
            self._future.result(timeout=5)
        except Exception:  # noqa: BLE001 - cancelled
            pass


# --- loads ----------------------------------------------------------------------------------------


@dataclass
class Load:
    name: str
    cameras: list[str]
    fire_camera: str
    published: int = 0
    publish_started: float = 0.0
    publish_ended: float = 0.0
    frame_ids: list[str] = field(default_factory=list)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def publish_steady(
    topic: str, pool: dict[bool, list[bytes]], cameras: int, fps: float, seconds: float, tag: str
) -> Load:
    """CAMERAS x FPS in real time; camera 0 burns from 30% to 60% of the run."""
    from firewatch.cloud.clients import publisher_client

    publisher = publisher_client()
    names = [f"{tag}-steady-{c}" for c in range(cameras)]
    load = Load("steady", names, names[0])
    ticks = int(seconds * fps)
    fire_from, fire_to = int(ticks * 0.3), int(ticks * 0.6)
    load.publish_started = time.time()
    futures = []
    for tick in range(ticks):
        due = load.publish_started + tick / fps
        time.sleep(max(0.0, due - time.time()))
        captured = iso(datetime.now(UTC))
        for c, camera in enumerate(names):
            fire = c == 0 and fire_from <= tick < fire_to
            images = pool[fire]
            data = images[(tick * cameras + c) % len(images)]
            frame_id = f"{camera}-{tick:05d}"
            futures.append(publisher.publish(topic, data, camera_id=camera, frame_id=frame_id, captured_at=captured))
            load.published += 1
    for future in futures:
        future.result(timeout=60)
    load.publish_ended = time.time()
    return load


def publish_burst(topic: str, pool: dict[bool, list[bytes]], frames: int, tag: str) -> Load:
    """`frames` messages at once: two cameras, the first all fire; capture times 0.5 s apart."""
    from firewatch.cloud.clients import publisher_client

    publisher = publisher_client()
    names = [f"{tag}-burst-fire", f"{tag}-burst-clear"]
    load = Load("burst", names, names[0])
    t0 = datetime.now(UTC) - timedelta(seconds=frames)
    load.publish_started = time.time()
    futures = []
    for i in range(frames):
        c = i % 2
        images = pool[c == 0]
        captured = iso(t0 + timedelta(seconds=(i // 2) * 0.5))
        camera = names[c]
        futures.append(
            publisher.publish(
                topic, images[i % len(images)], camera_id=camera, frame_id=f"{camera}-{i:05d}", captured_at=captured
            )
        )
        load.published += 1
    for future in futures:
        future.result(timeout=120)
    load.publish_ended = time.time()
    return load


# --- reading results ------------------------------------------------------------------------------


def query(sql: str) -> list[dict[str, Any]]:
    from firewatch.cloud.clients import bigquery_client

    return [dict(r) for r in bigquery_client().query(sql).result()]


def camera_filter(cameras: list[str]) -> str:
    return "camera_id IN (" + ", ".join(f"'{c}'" for c in cameras) + ")"


def wait_rows(dataset: str, load: Load, timeout: float, alive, stall: float = 120.0) -> float | None:
    """Poll until every frame of the load has a prediction or dead-letter row; the wall time then.
    None when the pipeline died, the timeout passed, or no new row came for `stall` seconds."""
    where = camera_filter(load.cameras)
    deadline = time.monotonic() + timeout
    last, progressed = -1, time.monotonic()
    while time.monotonic() < deadline and alive() and time.monotonic() - progressed < stall:
        n = query(
            f"SELECT (SELECT COUNT(*) FROM `{dataset}.predictions` WHERE {where}) "
            f"+ (SELECT COUNT(*) FROM `{dataset}.dead_letters` WHERE {where}) AS n"
        )[0]["n"]
        if n >= load.published:
            return time.time()
        if n != last:
            last, progressed = n, time.monotonic()
        time.sleep(1.0)
    print(f"  {load.name}: {last} of {load.published} rows, then no progress (see the pipeline log)")
    return None


def summarise(dataset: str, load: Load, visible_at: float | None, alerts: AlertWatcher, k: int, ceiling: float):
    where = camera_filter(load.cameras)
    rows = query(
        f"SELECT camera_id, frame_id, captured_at, publish_time, processed_at, label, latency_ms "
        f"FROM `{dataset}.predictions` WHERE {where}"
    )
    dead = query(f"SELECT COUNT(*) AS n FROM `{dataset}.dead_letters` WHERE {where}")[0]["n"]
    explained = query(f"SELECT COUNT(*) AS n FROM `{dataset}.explanations` WHERE {where}")[0]["n"]
    latencies = [float(r["latency_ms"]) / 1000 for r in rows if r["latency_ms"] is not None]
    out: dict[str, Any] = {"published": load.published, "rows": len(rows), "dead_letters": dead}
    out["explanations"] = explained
    out["fire_rows"] = sum(r["label"] == "fire" for r in rows)
    if rows:
        first_pub = min(r["publish_time"] for r in rows).timestamp()
        last_proc = max(r["processed_at"] for r in rows).timestamp()
        span = max(last_proc - first_pub, 1e-3)
        out["sustained_fps"] = len(rows) / span
        out["ratio_to_ceiling"] = out["sustained_fps"] / ceiling
        out["offered_fps"] = load.published / max(load.publish_ended - load.publish_started, 1e-3)
        out["latency_s"] = {q: percentile(latencies, q) for q in (50, 95, 99)}
        out["latency_s"]["max"] = max(latencies)
        out["last_row_visible_after_last_publish_s"] = (visible_at - load.publish_ended) if visible_at else None
    fire = sorted(
        (r for r in rows if r["camera_id"] == load.fire_camera and r["label"] == "fire"),
        key=lambda r: r["captured_at"],
    )
    opened = alerts.first(load.fire_camera)
    out["alert_after_kth_fire_s"] = None
    if len(fire) >= k and opened is not None:
        out["alert_after_kth_fire_s"] = opened - fire[k - 1]["publish_time"].timestamp()
    out["alert_opened"] = opened is not None
    return out


# --- one pipeline run -----------------------------------------------------------------------------


def run_setting(args, model_dir: Path, pool, explain: bool, ceiling: float, workdir: Path) -> dict[str, Any]:
    from firewatch.cloud.clients import prepare_beam_offline_auth, publisher_client
    from infra import resources, stack
    from streaming.local import start_stream, stop_stream

    state_dir = workdir / f"stack-{'explain' if explain else 'noexplain'}"
    saved = dict(os.environ)
    endpoints = stack.up(state_dir)
    result: dict[str, Any] = {"explain": explain}
    try:
        os.environ.update(endpoints.env())
        os.environ["FIREWATCH_STATE_DIR"] = str(state_dir)
        os.environ.pop("FIREWATCH_STACK_ENV", None)
        prepare_beam_offline_auth()
        names = resources.ResourceNames(project=endpoints.project).with_suffix(uuid.uuid4().hex[:8])
        resources.apply(names)
        dataset = f"{names.project}.{names.dataset}"
        flags = {
            "project": names.project,
            "subscription": names.frames_subscription,
            "alerts-topic": names.alerts_topic,
            "dead-letter-topic": names.dead_letter_topic,
            "dataset": names.dataset,
            "allowed-buckets": names.frames_bucket,
            "confirm-k": str(args.k),
            "confirm-reorder-seconds": str(args.reorder_seconds),
            "max-batch-size": str(args.batch),
            "explanations-output": f"gs://{names.frames_bucket}/explanations",
        }
        extra = [x for name, value in flags.items() for x in (f"--{name}", value)]
        extra += ["--explain" if explain else "--no-explain", *args.stream_args]
        log = Path(args.json).parent / f"bench-streaming-{'explain' if explain else 'noexplain'}.log"
        alerts = AlertWatcher(names.project, names.alerts_subscription)
        process = start_stream(model_dir, log, extra)
        rss = RssSampler(process.pid)
        rss.start()
        alive = lambda: process.poll() is None  # noqa: E731
        topic = publisher_client().topic_path(names.project, names.frames_topic)
        try:
            warm = Load("warm-up", ["warmup"], "warmup")
            publisher_client().publish(topic, pool[False][0], camera_id="warmup", frame_id="w").result(timeout=30)
            warm.published = 1
            started = time.time()
            if wait_rows(dataset, warm, 300, alive) is None:
                raise SystemExit(f"the pipeline wrote no row for the warm-up frame; see {log}")
            result["startup_to_first_row_s"] = time.time() - started
            tag = "e" if explain else "n"
            for run_load in (
                lambda: publish_steady(topic, pool, args.cameras, args.fps, args.seconds, tag),
                lambda: publish_burst(topic, pool, args.burst, tag),
            ):
                load = run_load()
                visible = wait_rows(dataset, load, args.timeout, alive)
                time.sleep(2 + args.reorder_seconds)  # alerts wait for the reorder window
                result[load.name] = summarise(dataset, load, visible, alerts, args.k, ceiling)
                print(f"  [{'explain' if explain else 'no-explain'}] {load.name}: {json.dumps(result[load.name])}")
        finally:
            stop_stream(process)
            rss.stop()
            alerts.close()
        result["peak_rss_mb"] = rss.peak_mb
        result["metrics"] = pipeline_metrics(log)
        result["log"] = str(log)
    finally:
        stack.down(state_dir)
        os.environ.clear()
        os.environ.update(saved)
    return result


def pipeline_metrics(log: Path) -> dict[str, Any]:
    """The job's metrics line, printed when it stops (inference batch sizes, explanation decisions)."""
    marker = "firewatch stream: metrics "
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith(marker)]
    return json.loads(lines[-1][len(marker) :]) if lines else {}


def fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(report: dict[str, Any]) -> None:
    ceiling = report["ceiling"]
    print(
        f"\nceiling: decode+regions {ceiling['decode_regions_ms']:.2f} ms + "
        f"{ceiling['regions_per_frame']:.0f} regions x "
        f"{ceiling['predict_ms_per_region']:.2f} ms (predict_images@{ceiling['batch']}) = "
        f"{ceiling['frames_per_s']:.1f} frames/s"
    )
    header = (
        f"{'explain':8} {'load':7} {'offered/s':>9} {'rows/s':>8} {'x ceil':>7} {'p50 s':>7} {'p95 s':>7} "
        f"{'p99 s':>7} {'alert s':>8} {'expl':>5} {'rows':>5} {'dead':>5} {'RSS MB':>7}"
    )
    print(header)
    print("-" * len(header))
    for setting in report["settings"]:
        for name in ("steady", "burst"):
            r = setting.get(name)
            if not r:
                continue
            lat = r.get("latency_s", {})
            print(
                f"{'on' if setting['explain'] else 'off':8} {name:7} {fmt(r.get('offered_fps'), '.1f'):>9} "
                f"{fmt(r.get('sustained_fps'), '.1f'):>8} {fmt(r.get('ratio_to_ceiling'), '.3f'):>7} "
                f"{fmt(lat.get(50)):>7} {fmt(lat.get(95)):>7} {fmt(lat.get(99)):>7} "
                f"{fmt(r.get('alert_after_kth_fire_s')):>8} {r['explanations']:>5} {r['rows']:>5} "
                f"{r['dead_letters']:>5} {setting['peak_rss_mb']:>7.0f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "artifacts" / "demo-model"))
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=600)
    parser.add_argument(
        "--frames", choices=["synthetic", "1080p"], default="synthetic", help="small procedural frames or 1080p photos"
    )
    parser.add_argument("--batch", type=int, default=256, help="the pipeline's --max-batch-size (and the ceiling's)")
    parser.add_argument("--k", type=int, default=3, help="--confirm-k")
    parser.add_argument("--reorder-seconds", type=float, default=1.0, help="--confirm-reorder-seconds")
    parser.add_argument("--explain", nargs="+", choices=["on", "off"], default=["off", "on"])
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a load's rows")
    parser.add_argument("--json", default=str(ROOT / "artifacts" / "bench-streaming.json"))
    parser.add_argument("--stream-args", nargs=argparse.REMAINDER, default=[], help="more `firewatch stream` flags")
    args = parser.parse_args()
    # Started in the background, a shell leaves SIGINT ignored: both signals end the run through
    # the `finally` blocks, which stop the pipeline and the emulators.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    from model.demo import ensure_demo_model

    model_dir = ensure_demo_model(args.model)
    pool = frame_pool(args.frames, np.random.default_rng(0))
    ceiling = measure_ceiling(model_dir, pool[True] + pool[False], args.batch)
    print(f"ceiling: {ceiling['frames_per_s']:.1f} frames/s ({json.dumps(ceiling)})")
    report: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPU cores (shared with other jobs)",
        "taken_at": iso(datetime.now(UTC)),
        "model": str(model_dir),
        "frames": args.frames,
        "frame_bytes_mean": float(np.mean([len(x) for x in pool[True] + pool[False]])),
        "args": {k: v for k, v in vars(args).items() if k != "stream_args"} | {"stream_args": args.stream_args},
        "ceiling": ceiling,
        "settings": [],
    }
    with tempfile.TemporaryDirectory(prefix="firewatch-bench-") as tmp:
        for setting in args.explain:
            report["settings"].append(
                run_setting(args, model_dir, pool, setting == "on", ceiling["frames_per_s"], Path(tmp))
            )
            Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    # The machine is shared: the ceiling is measured again after the pipelines and the better
    # (less disturbed) of the two is the one the ratios use.
    again = measure_ceiling(model_dir, pool[True] + pool[False], args.batch)
    report["ceiling_after"] = again
    if again["frames_per_s"] > ceiling["frames_per_s"]:
        report["ceiling"] = again
        for setting in report["settings"]:
            for name in ("steady", "burst"):
                if setting.get(name, {}).get("sustained_fps"):
                    setting[name]["ratio_to_ceiling"] = setting[name]["sustained_fps"] / again["frames_per_s"]
    print_table(report)
    for setting in report["settings"]:
        sizes = {int(k): v for k, v in setting.get("metrics", {}).get("inference_batch_sizes", {}).items()}
        if sizes:
            calls, frames = sum(sizes.values()), sum(k * v for k, v in sizes.items())
            print(
                f"explain {'on' if setting['explain'] else 'off'}: {calls} model calls, batch size mean "
                f"{frames / calls:.1f}, max {max(sizes)}; calls by size {sizes}"
            )
    Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
