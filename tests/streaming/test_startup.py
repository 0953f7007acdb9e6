"""A model that fails to load is one line; the C++ notes written while it loads are held back."""

import os

import pytest

from firewatch.errors import UserError
from streaming.startup import preload_model


def test_notes_written_while_loading_come_out_after_a_good_load(capfd):
    preload_model(lambda: os.write(2, b"I0000 oneDNN custom operations are on\n"), "m")
    assert capfd.readouterr().err == "I0000 oneDNN custom operations are on\n"


def test_a_failed_load_is_one_line_without_the_notes(capfd):
    def broken():
        os.write(2, b"E0000 failed call to cuInit\n")
        raise OSError("SavedModel file does not exist\nat /m/saved_model.pb")

    with pytest.raises(UserError) as info:
        preload_model(broken, "/m")
    assert str(info.value) == (
        "--model /m: its SavedModel cannot be loaded (OSError: SavedModel file does not exist); "
        "re-export it with `firewatch train`"
    )
    assert capfd.readouterr().err == ""
