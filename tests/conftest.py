"""Shared test fixtures: paths to ../shared data and the bundled samples.

Tests read the real data from ``../shared`` beside the checkout (never copied into the repo).
A missing ../shared is a failure, not a skip: CI always has it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Helpers shared by several test folders (synthetic cases, DICOM writers, image checks).
sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IVCPLAN_SHARED", REPO.parent / "shared")).resolve()
SAMPLES = REPO / "sample_dicom"

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"../shared not found at {SHARED}; set IVCPLAN_SHARED"
    return SHARED


@pytest.fixture(scope="session")
def totalseg_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "totalseg_example"


@pytest.fixture(scope="session")
def dcm_qa_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "dcm_qa_ts"
