"""Fixtures of the loader tests (helpers in tests/helpers/io_synth.py)."""

from __future__ import annotations

import numpy as np
import pytest
from io_synth import structured_hu


@pytest.fixture
def hu_small() -> np.ndarray:
    return structured_hu()
