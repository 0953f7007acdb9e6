"""The CLI kit's flags: booleans never take the next word, and every spelling users and templates use works."""

import pytest

from firewatch.cli.dispatch import ExactParser, build_parser
from firewatch.config.clients import PublishConfig
from firewatch.config.options import add_config_arguments, config_from_args


def publish(argv):
    cfg = config_from_args(PublishConfig, build_parser().parse_args(["publish", *argv]))
    return cfg, list(cfg.sources)


def test_a_boolean_flag_leaves_the_next_word_to_the_sources():
    cfg, sources = publish(["--fast", "cam-1=frames/"])
    assert cfg.fast is True and sources == ["cam-1=frames/"]
    cfg, sources = publish(["--as-uri", "--fast", "cam-1=a/", "cam-2=b/"])
    assert (cfg.as_uri, cfg.fast, sources) == (True, True, ["cam-1=a/", "cam-2=b/"])


@pytest.mark.parametrize(
    ("flags", "fast"),
    [
        ([], False),
        (["--fast"], True),
        (["--no-fast"], False),
        (["--fast=true"], True),
        (["--fast=True"], True),
        (["--fast=false"], False),
        (["--fast=0"], False),
        (["--fast", "--no-fast"], False),
    ],
)
def test_boolean_spellings(flags, fast):
    cfg, sources = publish([*flags, "frames/"])
    assert cfg.fast is fast and sources == ["frames/"]


def test_the_template_spelling_of_a_boolean_is_snake_case_with_a_value():
    cfg, _ = publish(["--as_uri=true", "x"])
    assert cfg.as_uri is True
    cfg, _ = publish(["--as_uri=false", "x"])
    assert cfg.as_uri is False


def test_a_bad_boolean_value_and_a_negated_value_are_errors(capsys):
    for argv in (["--fast=maybe", "x"], ["--no-fast=true", "x"]):
        with pytest.raises(SystemExit):
            publish(argv)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("firewatch publish: error: argument --fast: 'maybe' is not a boolean")
    assert err[1].startswith("firewatch publish: error: --no-fast takes no value; use --no-fast or --fast=false")


def test_help_shows_a_boolean_as_flag_and_no_flag():
    parser = ExactParser(prog="t")
    add_config_arguments(parser, PublishConfig, positional=("sources",))
    text = parser.format_help()
    assert "--fast, --no-fast" in text and "--fast=true" not in text
    assert parser.parse_args(["--fast=yes", "x"]).fast is True


def test_the_tests_stream_flags_keep_a_boolean_value_in_one_word():
    from infra.resources import ResourceNames
    from streaming.config import StreamingConfig
    from tests.fixtures.streaming_helpers import stream_args

    argv = ["stream", "--model", "m", *stream_args(ResourceNames(project="p-test"), explain="false", confirm_k="2")]
    args, unknown = build_parser().parse_known_args(argv)
    cfg = config_from_args(StreamingConfig, args)
    assert unknown == [] and cfg.explain is False and cfg.confirm.k == 2
