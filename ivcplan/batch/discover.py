"""Find the cases of a batch: every image series under a root (DICOM series, NIfTI/NRRD/MHA files).

A `Case` names one input the pipeline can be pointed at (``pipeline.run(case.source, series=case.series)``),
the files it reads (for the resume fingerprint) and a folder name that is safe on any file system:
derived from the relative path and a hash of the series identity, never from raw header text.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ivcplan.errors import InputError
from ivcplan.progress import ProgressCallback, no_progress

log = logging.getLogger(__name__)

#: DICOM objects that are not images to analyse (outputs of other tools, reports): listed, never run.
NON_IMAGE_MODALITIES = frozenset({"SEG", "SR", "PR", "KO", "RTSTRUCT", "RTPLAN", "REG", "DOC", "PLAN", "FID"})
#: Longest readable part of a case folder name (a hash follows it).
NAME_STEM_MAX = 48
#: Length of the hex hash that makes every case name unique.
NAME_HASH_LEN = 10
#: Header reading is reported in chunks of this many files.
HEADER_CHUNK = 64

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Case:
    """One input of a batch."""

    name: str  # output folder name: [A-Za-z0-9._-], unique within the batch
    kind: str  # "dicom" | "image"
    source: str  # absolute path handed to the pipeline (DICOM folder or image file)
    series: str | int | None  # DICOM: SeriesInstanceUID, or the series number within `source` when it has none
    files: tuple[str, ...]  # absolute paths of the files the case reads
    relpath: str  # `source` relative to the batch root (for people)
    modality: str = ""
    description: str = ""
    n_slices: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"case": self.name, "kind": self.kind, "source": self.relpath, "series_uid": self._uid(),
                "modality": self.modality, "series_description": self.description, "n_slices": self.n_slices,
                "n_files": len(self.files)}

    def _uid(self) -> str:
        return self.series if isinstance(self.series, str) else ""


@dataclass(frozen=True)
class Ignored:
    """A DICOM object found under the root that is not an image series (SEG, SR, ...) or holds no pixels."""

    relpath: str
    modality: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.relpath, "modality": self.modality, "reason": self.reason}


@dataclass(frozen=True)
class Discovery:
    root: Path
    cases: tuple[Case, ...]
    ignored: tuple[Ignored, ...]
    #: Files that could not be read (damaged DICOM, no permission, pipes and devices): listed, never run.
    unreadable: tuple[Ignored, ...] = ()


def safe_name(relpath: str, identity: str) -> str:
    """Folder name from a relative path (sanitised, shortened) plus a hash of ``identity``."""
    stem = _UNSAFE.sub("_", relpath.replace(os.sep, "_")).strip("._-")
    stem = re.sub(r"_+", "_", stem)[:NAME_STEM_MAX].strip("._-") or "case"
    digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:NAME_HASH_LEN]
    return f"{stem}-{digest}"


def _strip_suffix(name: str) -> str:
    lower = name.lower()
    for suffix in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _rel(path: str | Path, root: Path) -> str:
    rel = os.path.relpath(path, root)
    return "." if rel == os.curdir else rel




def discover(root: str | os.PathLike, *, exclude: Iterable[str | os.PathLike] = (),
             progress: ProgressCallback | None = None) -> Discovery:
    """Every case under ``root`` (a folder, or a single image file / DICOM file).

    DICOM files are grouped into series across folders (several series may share a folder); each
    image series is one case, whatever its modality (a non-CT series fails later with the loader's
    reason). Non-image DICOM objects (SEG, SR, ...) are returned in ``ignored``, files that cannot be
    read (damaged headers, pipes, no permission) in ``unreadable``: discovery itself never fails on a file.
    """
    from ivcplan.io import image_kind
    from ivcplan.io import series as ser
    from ivcplan.io.files import walk_files

    report = progress or no_progress
    root_path = Path(root)
    if not root_path.exists():
        raise InputError("input root does not exist", root_path)
    root_path = root_path.resolve()
    skipped = []
    if root_path.is_file():
        files = [str(root_path)]
        base = root_path.parent
    else:
        files, skipped = walk_files(root_path, [Path(p) for p in exclude])
        base = root_path
    images = [f for f in files if image_kind(f)]
    candidates = [f for f in files if not image_kind(f)]
    cases: list[Case] = []
    for path in images:
        rel = _rel(path, base)
        cases.append(Case(name=safe_name(_strip_suffix(rel), "image:" + rel), kind="image", source=path,
                          series=None, files=(path,), relpath=rel, description=Path(path).name))
    headers = []
    for i in range(0, len(candidates), HEADER_CHUNK):
        found, not_read = ser.read_headers(candidates[i:i + HEADER_CHUNK])
        headers += found
        skipped += not_read
        report("discover", min(1.0, (i + HEADER_CHUNK) / len(candidates)))
    ignored: list[Ignored] = []
    for info in ser.group(headers) if headers else []:
        folder = os.path.commonpath([os.path.dirname(f) for f in info.files])
        rel = _rel(folder, base)
        if info.modality in NON_IMAGE_MODALITIES or "no image data" in info.problems:
            reason = "no image data" if "no image data" in info.problems else f"{info.modality} object, not an image"
            ignored.append(Ignored(rel, info.modality, reason))
            log.info("ignoring %s series in %s: %s", info.modality or "?", rel, reason)
            continue
        which: str | int = info.uid or _number_in(folder, info.files)
        identity = f"dicom:{rel}:{info.uid or info.headers[0].group_key}"
        cases.append(Case(name=safe_name(rel if rel != "." else base.name, identity), kind="dicom", source=folder,
                          series=which, files=tuple(sorted(info.files)), relpath=rel, modality=info.modality,
                          description=info.description, n_slices=info.n_slices))
    report("discover", 1.0)
    cases.sort(key=lambda c: (c.relpath, c.name))
    unreadable = tuple(Ignored(_rel(s.path, base), "", s.reason) for s in skipped if s.notable)
    return Discovery(root_path, tuple(cases), tuple(ignored), unreadable)


def _number_in(folder: str, files: Iterable[str]) -> int:
    """Number `ivcplan.io.scan(folder)` gives the series made of ``files`` (series without a UID)."""
    from ivcplan.io import scan

    wanted = set(files)
    for info in scan(folder):
        if set(info.files) == wanted:
            return info.number
    raise InputError("series without SeriesInstanceUID could not be found again by scanning its folder", folder)


def fingerprint(case: Case) -> str:
    """Hash of what the case reads: each file's path (relative to the source), size and modification time."""
    h = hashlib.sha256()
    h.update(f"{case.kind}\0{case.series}\0".encode())
    base = case.source if case.kind == "dicom" else os.path.dirname(case.source)
    for path in case.files:
        st = os.stat(path)
        h.update(f"{os.path.relpath(path, base)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()
