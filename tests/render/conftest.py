"""Fixtures of the render tests: the small synthetic case of `synth_case`."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_case import SyntheticCase, build_case


@pytest.fixture(scope="session")
def case() -> SyntheticCase:
    return build_case()


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("render")
