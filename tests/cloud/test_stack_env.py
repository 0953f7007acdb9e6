"""stack.env is applied only while its emulators answer; a stale file is ignored with a warning."""

import os
import socket

from firewatch.cloud.stack_env import load_stack_env

KEYS = ("PUBSUB_EMULATOR_HOST", "FIREWATCH_PROJECT")


def write_env(path, port):
    path.write_text(f"export PUBSUB_EMULATOR_HOST=127.0.0.1:{port}\nexport FIREWATCH_PROJECT=firewatch-local\n")


def test_live_stack_is_applied_and_stale_one_is_ignored(tmp_path, monkeypatch, capsys):
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("FIREWATCH_STACK_ENV", raising=False)
    env = tmp_path / "stack.env"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        write_env(env, listener.getsockname()[1])
        applied = load_stack_env(env)
    assert applied["FIREWATCH_PROJECT"] == "firewatch-local" and os.environ["FIREWATCH_PROJECT"] == "firewatch-local"
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    write_env(env, port)
    assert load_stack_env(env) == {} and "FIREWATCH_PROJECT" not in os.environ
    assert "not running" in capsys.readouterr().err
