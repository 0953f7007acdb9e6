"""Starts `bqemulator` offline: DuckDB's spatial extension comes from a wheel, not the internet.

Run with the BigQuery emulator's own interpreter (`.venv-bq/bin/python`), never the project's:

    .venv-bq/bin/python infra/bq_emulator_launcher.py --extension-dir DIR start --rest-port P ...

Everything after `--extension-dir DIR` is passed to bqemulator's own CLI (`bqemulator start ...`).
bqemulator runs `INSTALL spatial; LOAD spatial` at start-up, which downloads the extension unless
it is already installed in DuckDB's extension directory. This launcher copies the extension file
shipped in the `duckdb_extension_spatial` wheel into DIR (DuckDB's layout: `vX.Y.Z/<platform>/`),
and makes every DuckDB connection of the process use DIR with auto-install switched off, so
`INSTALL spatial` is a no-op and nothing is fetched. The optional `avro` extension (download-only)
is switched off through bqemulator's own setting. Standard library + the emulator env only.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any


def spatial_extension_file() -> Path:
    """The `spatial.duckdb_extension` file shipped in the duckdb_extension_spatial wheel."""
    import duckdb
    import duckdb_extension_spatial

    root = Path(duckdb_extension_spatial.__file__).parent / "extensions"
    candidate = root / f"v{duckdb.__version__}" / "spatial.duckdb_extension"
    if candidate.is_file():
        return candidate
    found = sorted(root.glob("v*/spatial.duckdb_extension"))
    raise SystemExit(
        f"bq emulator launcher: no spatial extension for duckdb {duckdb.__version__} in {root} "
        f"(found {[str(p) for p in found]}). Install matching pins: "
        "make setup (infra/requirements-bq-emulator.txt)."
    )


def prepare_extension_dir(target: Path) -> Path:
    """Install the wheel's spatial extension into `target` in DuckDB's layout; return `target`."""
    import duckdb

    with duckdb.connect(":memory:") as conn:
        platform = conn.execute("PRAGMA platform").fetchone()[0]
    dest = target / f"v{duckdb.__version__}" / platform / "spatial.duckdb_extension"
    source = spatial_extension_file()
    if not dest.is_file() or dest.stat().st_size != source.stat().st_size:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(dest)
    return target


def patch_duckdb_connect(extension_dir: Path) -> None:
    """Make every `duckdb.connect` in this process use `extension_dir` and never download."""
    import duckdb

    original = duckdb.connect
    offline = {
        "extension_directory": str(extension_dir),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }

    def connect(database: Any = ":memory:", read_only: bool = False, config: Any = None, **kwargs: Any):
        merged = dict(offline)
        merged.update(config or {})
        return original(database, read_only=read_only, config=merged, **kwargs)

    duckdb.connect = connect  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--extension-dir":
        print(__doc__, file=sys.stderr)
        return 2
    extension_dir = prepare_extension_dir(Path(argv[1]).resolve())
    patch_duckdb_connect(extension_dir)
    os.environ.setdefault("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")
    from bqemulator.cli import main as bqemulator_main

    return int(bqemulator_main.main(args=argv[2:], prog_name="bqemulator", standalone_mode=True) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
