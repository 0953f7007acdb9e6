"""`firewatch console`: serve the operator console (flags = `ConsoleConfig`, 1:1)."""

from __future__ import annotations

import argparse

from firewatch.config.options import add_config_arguments, config_from_args
from firewatch.console.config import ConsoleConfig
from firewatch.core.names import resource_path
from firewatch.errors import ConfigError, UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "console",
        help="operator console: live alerts, evidence, verdicts, uploads (web, binds 127.0.0.1 by default)",
        description="Binding anything but loopback needs $FIREWATCH_CONSOLE_TOKENS (name=token,...) or --trust-iap.",
    )
    add_config_arguments(parser, ConsoleConfig)
    parser.set_defaults(func=_serve)


def build(config: ConsoleConfig):
    """The app with its real store, live feed and scorer (what `firewatch console` serves)."""
    from firewatch.cloud.clients import project_id
    from firewatch.console.app import create_app
    from firewatch.console.live import AlertFeed
    from firewatch.console.scoring import UploadScorer
    from firewatch.console.store import ConsoleStore

    project = project_id(config.project)
    path = resource_path("subscriptions", config.alerts_subscription, project)
    return create_app(
        config,
        ConsoleStore(config, project),
        feed=AlertFeed(path) if config.live else None,
        scorer=UploadScorer(config.model) if config.model else None,
    )


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    try:
        config = config_from_args(ConsoleConfig, args)
    except (ConfigError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if config.model:  # at start-up, not at the first upload
        from firewatch.cloud.models import check_model_dir
        from firewatch.errors import ModelError

        try:
            check_model_dir(config.model)
        except (FileNotFoundError, ModelError) as exc:
            raise UserError(f"--model {config.model}: {exc}") from None
    app = build(config)
    print(f"Firewatch console on http://{config.host}:{config.port}/", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", timeout_graceful_shutdown=5)
    return 0
