"""Every command's flags come from its config: a walk over `build_parser()` finds each command and
checks that its flags are exactly the flags of the configs `add_config_arguments` recorded on it."""

import argparse

from firewatch.cli.dispatch import build_parser
from firewatch.config.options import config_flags, recorded_configs

# Genuine pass-through flags, not from a config: Beam options `data ingest` takes by name (any other
# Beam option passes through as for `stream` and `batch`) and its --beam-arg.
PASS_THROUGH = {
    "data ingest": {
        *(f"--{name}" for name in ("runner", "region", "temp_location", "staging_location", "job_name")),
        *(f"--{name}" for name in ("setup_file", "num_workers", "max_num_workers", "machine_type")),
        *(f"--{name}" for name in ("service_account_email", "subnetwork")),
        "--temp-location", "--staging-location", "--job-name", "--setup-file", "--num-workers",
        "--max-num-workers", "--machine-type", "--service-account-email",
        "--beam-arg",
    },
}  # fmt: skip


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) of every leaf command."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path), parser
        return
    for action in subs:
        for name, sub in action.choices.items():
            yield from commands(sub, (*path, name))


def test_every_commands_flags_are_its_configs_fields():
    walked = dict(commands(build_parser()))
    assert {"stream", "batch", "publish", "deploy run", "edge run", "export-tflite", "tune", "vertex train"} <= set(
        walked
    )
    for name, parser in walked.items():
        recorded = recorded_configs(parser)
        assert recorded, f"`firewatch {name}` has no config"
        expected = set().union(*(config_flags(model, skip) for model, skip in recorded))
        flags = {s for s in parser._option_string_actions if "=" not in s} - {"-h", "--help"}
        assert flags - PASS_THROUGH.get(name, set()) == expected, f"`firewatch {name}`: flags not from its config"
        fields = {f for model, _ in recorded for f in model.model_fields}
        positionals = {a.dest for a in parser._actions if not a.option_strings}
        assert positionals <= fields, f"`firewatch {name}`: positional arguments not from its config"


def test_help_of_every_command_lists_its_config_fields():
    for name, parser in commands(build_parser()):
        text = parser.format_help()
        for model, skip in recorded_configs(parser):
            for flag in config_flags(model, skip):
                if flag.startswith("--no-") or "_" in flag:
                    continue
                assert flag in text, f"`firewatch {name} --help` does not show {flag}"
