"""Public sample CT to try ivcplan on a real scan: a small registry and a checked, cached download (pooch).

``fetch(name)`` downloads a registry entry into the cache (``pooch.os_cache("ivcplan")``, or the
folder in ``IVCPLAN_DATA_DIR``, or ``dest``), checks its SHA-256 and returns its path; a file already
there with the right SHA-256 is not downloaded again. A download whose SHA-256 differs is deleted
and refused (`DownloadError`); so is an HTTP error or an unreachable server, with the URL named.

The registry's SHA-256 values are the data publishers' own (3D Slicer's SampleData serves each file
under its SHA-256, so the name of the file is its checksum): they were NOT computed by ivcplan's
maintainers, whose machines have no internet access. `SampleDataset.checksum_source` says so and
``ivcplan data list`` shows it. ``IVCPLAN_DATA_REGISTRY`` names a JSON file of extra or replacing
entries (``{"name": {"url": ..., "sha256": ..., "filename": ..., "licence": ..., ...}}``): a local
mirror, or the loopback server of the tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from ivcplan.errors import InputError, IvcplanError
from ivcplan.progress import ProgressCallback

log = logging.getLogger(__name__)

#: Environment variables: the cache folder, and a JSON file of extra registry entries.
ENV_CACHE = "IVCPLAN_DATA_DIR"
ENV_REGISTRY = "IVCPLAN_DATA_REGISTRY"
#: Seconds without an answer before a download gives up (pooch's default is 30).
TIMEOUT_S = 60


class DownloadError(IvcplanError, RuntimeError):
    """A sample could not be downloaded or failed its SHA-256 check (names the URL and the problem)."""


@dataclass(frozen=True)
class SampleDataset:
    """One downloadable CT: where it is, what it is, its licence and its SHA-256."""

    name: str
    title: str
    url: str
    filename: str
    sha256: str
    licence: str
    source: str  # where the data come from, to cite
    size_bytes: int | None = None  # None: not recorded
    checksum_source: str = "given by the registry entry"
    notes: tuple[str, ...] = field(default_factory=tuple)


REGISTRY: tuple[SampleDataset, ...] = (
    SampleDataset(
        name="ctliver",
        title="Abdominal CT, portal venous phase, liver with tumours (3D Slicer sample 'CTLiver')",
        url="https://github.com/Slicer/SlicerTestingData/releases/download/SHA256/"
            "e16eae0ae6fefa858c5c11e58f0f1bb81834d81b7102e021571056324ef6f37e",
        filename="CTLiver.nrrd",
        sha256="e16eae0ae6fefa858c5c11e58f0f1bb81834d81b7102e021571056324ef6f37e",
        licence="CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)",
        source="Medical Segmentation Decathlon, Task03_Liver imagesTr/liver_100.nii.gz (Antonelli et al., "
               "Nat Commun 2022; http://medicaldecathlon.com/), as served by 3D Slicer's SampleData module",
        checksum_source="3D Slicer SampleData (the file is served under its SHA-256); not verified by ivcplan's "
                        "maintainers (no internet on their machines)",
        notes=("No IVC tumor: the liver, IVC, hepatic and renal veins of a real scan, to try the pipeline.",),
    ),
)


def cache_dir() -> Path:
    """Where samples are kept: ``$IVCPLAN_DATA_DIR`` or the platform's cache (``pooch.os_cache("ivcplan")``)."""
    override = os.environ.get(ENV_CACHE)
    if override:
        return Path(override).expanduser()
    import pooch

    return Path(pooch.os_cache("ivcplan"))


def _extra_entries(path: Path) -> dict[str, SampleDataset]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the sample registry ({exc})", path) from exc
    if not isinstance(data, Mapping):
        raise InputError("sample registry must be a JSON object of name -> entry", path)
    known = {f.name for f in fields(SampleDataset)}
    out = {}
    for name, entry in data.items():
        if not isinstance(entry, Mapping) or set(entry) - known:
            raise InputError(f"sample registry entry {name!r} has unknown fields "
                             f"{sorted(set(entry) - known) if isinstance(entry, Mapping) else entry!r}", path)
        values = {"name": name, "title": name, "licence": "unknown", "source": "local registry",
                  "checksum_source": f"registry file {path}", **entry}
        values["notes"] = tuple(values.get("notes", ()))
        try:
            out[name] = SampleDataset(**values)
        except TypeError as exc:
            raise InputError(f"sample registry entry {name!r}: {exc}", path) from exc
    return out


def registry() -> dict[str, SampleDataset]:
    """The built-in entries, plus (replacing same-named ones) those of ``$IVCPLAN_DATA_REGISTRY``."""
    entries = {d.name: d for d in REGISTRY}
    extra = os.environ.get(ENV_REGISTRY)
    if extra:
        entries.update(_extra_entries(Path(extra)))
    for d in entries.values():
        if len(d.sha256) != 64 or any(c not in "0123456789abcdef" for c in d.sha256.lower()):
            raise InputError(f"sample {d.name!r}: sha256 must be 64 hexadecimal digits, got {d.sha256!r}", "registry")
    return entries


def dataset(name: str) -> SampleDataset:
    """The registry entry ``name``; InputError naming the available ones otherwise."""
    entries = registry()
    if name not in entries:
        raise InputError(f"unknown sample {name!r}; available: {', '.join(sorted(entries)) or 'none'}", "name")
    return entries[name]


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Progress:
    """The progress object pooch's HTTPDownloader drives (total, update, reset, close) -> a ProgressCallback."""

    def __init__(self, callback: ProgressCallback, stage: str) -> None:
        self.callback, self.stage = callback, stage
        self.total = 0
        self.done = 0

    def update(self, n: int) -> None:
        self.done += int(n)
        self.callback(self.stage, min(1.0, self.done / self.total) if self.total else 0.0)

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        self.callback(self.stage, 1.0)


def fetch(name: str, dest: str | os.PathLike | None = None, *, progress: ProgressCallback | None = None) -> Path:
    """Download sample ``name`` into ``dest`` (default `cache_dir`) unless it is there already; returns its path.

    The SHA-256 is checked on every call (a damaged cached file is downloaded again); a download that
    does not match is deleted and raises `DownloadError`, as do HTTP errors and unreachable servers.
    """
    import pooch
    import requests

    entry = dataset(name)
    folder = Path(dest) if dest is not None else cache_dir()
    if folder.exists() and not folder.is_dir():
        raise InputError("destination exists and is not a folder", folder)
    target = folder / entry.filename
    cached = target.is_file() and sha256_of(target) == entry.sha256.lower()
    if cached:
        log.info("sample %s already in %s (SHA-256 matches): not downloaded", name, target)
        return target
    folder.mkdir(parents=True, exist_ok=True)
    downloader = pooch.HTTPDownloader(progressbar=_Progress(progress, f"download {name}") if progress else False,
                                      timeout=TIMEOUT_S)
    pooch_log = pooch.get_logger()
    level = pooch_log.level
    pooch_log.setLevel(logging.WARNING)  # pooch prints its own progress lines at INFO: library code stays quiet
    try:
        path = pooch.retrieve(entry.url, known_hash=f"sha256:{entry.sha256.lower()}", fname=entry.filename,
                              path=folder, downloader=downloader)
    except ValueError as exc:  # pooch: the SHA-256 differs (the temporary download is already deleted)
        target.unlink(missing_ok=True)
        raise DownloadError(f"{entry.url}: downloaded file failed its SHA-256 check and was deleted "
                            f"(expected {entry.sha256.lower()}): {exc}") from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise DownloadError(f"{entry.url}: server answered HTTP {status}; nothing was written") from None
    except requests.RequestException as exc:
        raise DownloadError(f"{entry.url}: cannot download ({type(exc).__name__}: {exc}); nothing was written") \
            from None
    finally:
        pooch_log.setLevel(level)
    log.info("sample %s downloaded to %s (SHA-256 checked)", name, path)
    return Path(path)
