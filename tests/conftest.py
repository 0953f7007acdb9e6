"""Shared pytest wiring: loads the model and local-stack fixtures as plugins."""

pytest_plugins = ["tests.fixtures.model_fixtures", "tests.fixtures.stack_fixtures"]
