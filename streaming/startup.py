"""Loading the model before a local streaming job starts, so that a broken SavedModel is one line.

TensorFlow's C++ runtime writes its start-up notes (oneDNN, CUDA, CPU features) straight to file
descriptor 2 while the model loads; they are held back in a temporary file meanwhile: written out
as usual once the model has loaded, dropped when it fails, so the job's first line is the problem.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from firewatch.errors import UserError


@contextmanager
def held_stderr() -> Iterator[Callable[[], None]]:
    """Hold what the process writes to stderr (fd 2, C++ included); the yielded function writes it out."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        restored = False

        def restore() -> None:
            nonlocal restored
            if not restored:
                sys.stderr.flush()
                os.dup2(saved, 2)
                restored = True

        def release() -> None:
            restore()
            held.seek(0)
            os.write(2, held.read())

        try:
            yield release
        finally:
            restore()
            os.close(saved)


def preload_model(load: Callable[[], None], model_dir: str) -> None:
    """Run `load` (e.g. `model_handler.preload`); any failure becomes one line naming the model."""
    with held_stderr() as release:
        try:
            load()
        except Exception as exc:  # noqa: BLE001 - whatever TF raises for a broken SavedModel: one line
            text = str(exc).strip()
            first = text.splitlines()[0] if text else ""
            raise UserError(
                f"--model {model_dir}: its SavedModel cannot be loaded ({type(exc).__name__}: {first}); "
                "re-export it with `firewatch train`"
            ) from None
        release()
