"""Builders of hostile and broken inputs for the tests of issue 21 (tests/io, tests/cli, tests/batch): real
files written by pydicom and nibabel, then damaged the way a PACS export, an anonymiser or an adversary would."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

#: The ivcplan under test (the one this process imports): subprocesses run the same code.
CODE = Path(__import__("ivcplan").__file__).resolve().parents[1]


def set_raw(path: Path, keyword: str, value: bytes, *, vr: str | None = None) -> None:
    """Store ``value`` verbatim as ``keyword`` (no validation: the bytes an adversary would write)."""
    ds = pydicom.dcmread(path)
    tag = Tag(tag_for_keyword(keyword))
    if len(value) % 2:
        value += b" "
    ds[tag] = RawDataElement(tag, vr or dictionary_VR(tag), len(value), value, 0, False, True)
    ds.save_as(path, enforce_file_format=True)


def set_us(path: Path, keyword: str, value: int) -> None:
    """An unsigned short attribute (Rows, Columns...) set to ``value`` without touching the pixel data."""
    set_raw(path, keyword, int(value).to_bytes(2, "little"), vr="US")


def delete(path: Path, *keywords: str) -> None:
    ds = pydicom.dcmread(path)
    for keyword in keywords:
        if keyword in ds:
            delattr(ds, keyword)
    ds.save_as(path, enforce_file_format=True)


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-1 of every file under ``root`` (inputs must come out of every run unchanged)."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest() for p in files}


def body_hu(shape=(6, 32, 32), seed: int = 0) -> np.ndarray:
    """A tiny CT in HU: air around an elliptic water-like body with a denser core (plausible HU)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    r = np.hypot((y - shape[1] / 2) / (0.4 * shape[1]), (x - shape[2] / 2) / (0.45 * shape[2]))
    hu = np.where(r < 1.0, 40.0, -1000.0) + np.where(r < 0.4, 200.0 + 10 * z, 0.0)
    return np.round(hu + rng.normal(0, 4, shape)).astype(np.int16)


def ivcplan(*args: str, timeout: float = 300, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """Run the console entry point (``python -m ivcplan``) as a user would, with a timeout (no hang)."""
    environment = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(CODE), **(env or {})}
    return subprocess.run([sys.executable, "-m", "ivcplan", *args], capture_output=True, text=True,
                          timeout=timeout, env=environment, **kw)


def headerless_nifti(path: Path, array_zyx: np.ndarray, pixdim=(0.0, 0.0, 0.0)) -> Path:
    """An uncompressed NIfTI-1 with qform_code = sform_code = 0 and the given pixdim, written into the header
    bytes (nibabel would fill pixdim in from an affine)."""
    import nibabel

    assert str(path).endswith(".nii")
    image = nibabel.Nifti1Image(np.transpose(array_zyx, (2, 1, 0)), affine=None)
    image.header.set_qform(None, code=0)
    image.header.set_sform(None, code=0)
    nibabel.save(image, path)
    data = bytearray(Path(path).read_bytes())
    data[80:92] = np.asarray(pixdim, "<f4").tobytes()  # pixdim[1..3] (pixdim starts at byte 76)
    Path(path).write_bytes(bytes(data))
    with open(path, "rb") as fh:
        assert tuple(nibabel.Nifti1Header.from_fileobj(fh, check=False)["pixdim"][1:4]) == tuple(pixdim)
    return Path(path)


def invoke_within(seconds: float, *args):
    """`ivcplan ARGS` through Typer's test runner in a thread: the result, or a failure (not a hung test)
    when it has not ended after ``seconds`` (a named pipe opened by mistake blocks forever)."""
    import threading

    from typer.testing import CliRunner

    from ivcplan.cli import app

    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=CliRunner().invoke(app, [str(a) for a in args])),
                              daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"ivcplan {' '.join(map(str, args))} still running after {seconds} s (blocked?)"
    return box["result"]
