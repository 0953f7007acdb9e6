"""Fixtures for the explanation tests: the toy exported model (see toy_model.py)."""

from __future__ import annotations

import pytest

from tests.explain.toy_model import ToyExported, load_toy_model, save_toy_model


@pytest.fixture(scope="session")
def toy_model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_toy_model(tmp_path_factory.mktemp("toy_model")))


@pytest.fixture(scope="session")
def toy_model(toy_model_dir: str) -> ToyExported:
    return load_toy_model(toy_model_dir)
