"""Build a `Volume` from one DICOM series: order slices along the normal, check the geometry,
decode pixels in parallel, apply the rescale and resample tilted or irregular stacks.

Uncompressed little-endian pixels are read straight from disk into the output array (no pydicom
decode); compressed frames are decoded by pydicom's maintained plugins (pylibjpeg, openjpeg,
libjpeg, rle) in a thread pool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from ivcplan.errors import NotCTError, PixelDataError, SeriesError
from ivcplan.io.series import FileHeader, PixelFormat, SeriesInfo, SliceRef, shared_position_order, stack_slices
from ivcplan.progress import ProgressCallback, no_progress
from ivcplan.volume import Grid, Volume

log = logging.getLogger(__name__)

#: Slices whose positions along the normal differ by less than this are duplicates (mm).
DUPLICATE_TOLERANCE_MM = 0.01
#: Slice steps equal to the smallest step within this (relative, plus an absolute mm floor) are regular.
SPACING_RELATIVE_TOLERANCE = 0.01
SPACING_ABSOLUTE_TOLERANCE_MM = 0.01
#: Refuse stacks whose largest step exceeds this many times the smallest (too sparse to interpolate).
MAX_STEP_RATIO = 4.0
#: In-plane drift of slice origins (mm over the whole stack) below which there is no gantry tilt.
TILT_TOLERANCE_MM = 0.05
#: Slice origins must lie on a line (tilted or not) within this (mm); otherwise positions are inconsistent.
POSITION_LINE_TOLERANCE_MM = 0.5
#: Pixel spacing of all slices must agree within this (mm).
PIXEL_SPACING_TOLERANCE_MM = 1e-3
#: Value outside the field of view after resampling (HU: air).
FILL_HU = -1024.0
#: Threads reading uncompressed frames from disk (I/O releases the GIL).
DISK_THREADS = 4
#: Compressed frames are decoded in worker processes: the JPEG 2000/JPEG-LS decoders hold the GIL
#: (threads gave no speed-up, see BENCHMARKS.md). Below this many frames a pool is not worth starting.
DECODE_IN_PROCESSES = True
MIN_TASKS_FOR_PROCESSES = 8
#: forkserver: safe when the caller runs threads (viewer, dask); workers import only pydicom + numpy.
PROCESS_START_METHOD = "forkserver"
#: The process that started (or will start) the forkserver: a child forked from it must not reuse it.
_FORKSERVER_PID: int | None = None
_INT16 = np.iinfo(np.int16)


@dataclass(frozen=True)
class Stack:
    """Slices ordered along the normal with the geometry derived from their positions."""

    slices: tuple[SliceRef, ...]
    distance: np.ndarray  # (n,) position along the normal (mm)
    offset_px: np.ndarray  # (n, 2) in-plane (row, column) offset of each slice origin from the first (pixels)
    direction: np.ndarray  # Grid.direction: columns = normal, column cosine, row cosine
    pixel_spacing: tuple[float, float]
    step: float  # output slice spacing (mm)
    regular: bool  # slices already sit on the output grid (no resampling)
    warnings: tuple[str, ...]
    synthetic_positions: bool = False  # positions rebuilt from InstanceNumber (the headers' were all the same)


def _orthonormal(iop: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    row = np.asarray(iop[:3], float)
    row /= np.linalg.norm(row)
    col = np.asarray(iop[3:], float)
    col = col - (col @ row) * row
    col /= np.linalg.norm(col)
    return row, col, np.cross(row, col)


def plan_stack(slices: Sequence[SliceRef], headers: Mapping[str, FileHeader] | None = None) -> Stack:
    """Sort along the normal, resolve duplicates, detect gantry tilt and irregular spacing.

    ``headers`` (path -> header) lets duplicates be told apart: a damaged copy gives way to an intact one,
    the same image stored twice (same SOPInstanceUID or identical pixels) is dropped with a note, and two
    different images at one position are refused, naming both files.
    """
    first = slices[0]
    if any(s.position is None or s.orientation is None for s in slices):
        bad = next(s for s in slices if s.position is None or s.orientation is None)
        raise SeriesError("image has no ImagePositionPatient/ImageOrientationPatient: cannot place it", bad.path)
    sizes = {(s.rows, s.cols) for s in slices}
    if len(sizes) > 1:
        odd = next(s for s in slices if (s.rows, s.cols) != (first.rows, first.cols))
        raise SeriesError(f"inconsistent rows/columns within the series: {odd.rows}x{odd.cols} here, "
                          f"{first.rows}x{first.cols} in {first.path}", odd.path)
    if first.pixel_spacing is None:
        raise SeriesError("no PixelSpacing: the in-plane voxel size is unknown", first.path)
    for s in slices:
        if s.pixel_spacing is None or np.max(np.abs(np.subtract(s.pixel_spacing, first.pixel_spacing))) > \
                PIXEL_SPACING_TOLERANCE_MM:
            raise SeriesError(f"PixelSpacing {s.pixel_spacing} differs from {first.pixel_spacing} in {first.path}",
                              s.path)
    warnings = []
    shared = shared_position_order(slices)
    if shared is not None:
        slices, note = shared
        warnings.append(note)
    row, col, normal = _orthonormal(first.orientation)
    positions = np.array([s.position for s in slices], float)
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    positions, distance = positions[order], distance[order]
    ordered = [slices[i] for i in order]

    keep, notes = _resolve_duplicates(ordered, distance, headers or {})
    warnings += notes
    if not keep.all():
        positions, distance = positions[keep], distance[keep]
        ordered = [s for s, k in zip(ordered, keep, strict=True) if k]
    if len(ordered) < 2:
        raise SeriesError("single slice: a volume needs at least 2 slices at distinct positions", first.path)

    drift = (positions - positions[0]) - np.outer(distance - distance[0], normal)
    along = distance - distance[0]
    fit = np.outer(along, np.linalg.lstsq(along[:, None], drift, rcond=None)[0][0])
    if np.max(np.linalg.norm(drift - fit, axis=1)) > POSITION_LINE_TOLERANCE_MM:
        worst = ordered[int(np.argmax(np.linalg.norm(drift - fit, axis=1)))]
        raise SeriesError("slice positions do not lie on a line (mixed acquisitions in one series?)", worst.path)
    tilted = bool(np.max(np.linalg.norm(drift, axis=1)) > TILT_TOLERANCE_MM)
    if tilted:
        shear = np.linalg.norm(drift[-1]) / along[-1]
        warnings.append(f"gantry tilt of {np.degrees(np.arctan(shear)):.2f} deg: resampled onto an orthogonal grid")
    dr, dc = first.pixel_spacing
    offset_px = np.stack([drift @ col / dr, drift @ row / dc], axis=1)

    steps = np.diff(distance)
    step = float(steps.min())
    tolerance = max(SPACING_ABSOLUTE_TOLERANCE_MM, SPACING_RELATIVE_TOLERANCE * step)
    uniform = bool(np.all(steps - step <= tolerance))
    if not uniform:
        if steps.max() > MAX_STEP_RATIO * step:
            raise SeriesError(f"slice spacing too irregular to resample: steps from {step:.3g} to {steps.max():.3g} mm "
                              f"(limit {MAX_STEP_RATIO:g}x)", ordered[int(np.argmax(steps)) + 1].path)
        multiples = np.round(steps / step)
        if np.all(np.abs(steps - multiples * step) <= tolerance * multiples):
            missing = int((multiples - 1).sum())
            warnings.append(f"{missing} missing slice(s) (gaps in the {step:.3g} mm stack): interpolated")
        else:
            warnings.append(f"non-uniform slice spacing ({step:.3g} to {steps.max():.3g} mm): "
                            f"resampled to {step:.3g} mm")
    else:
        step = float(steps.mean())
    return Stack(tuple(ordered), distance, offset_px, np.stack([normal, col, row], axis=1), (dr, dc), step,
                 uniform and not tilted, tuple(warnings), shared is not None)


#: Files named in a duplicate note (the rest are counted).
MAX_NAMED = 3


def _resolve_duplicates(ordered: Sequence[SliceRef], distance: np.ndarray, headers: Mapping[str, FileHeader]
                        ) -> tuple[np.ndarray, list[str]]:
    """Which slices to keep where several share one position (sorted by ``distance``), and notes on those
    dropped. Raises SeriesError naming both files when two different images claim one position."""
    keep = np.ones(len(ordered), bool)
    starts = np.flatnonzero(np.concatenate([[True], np.diff(distance) > DUPLICATE_TOLERANCE_MM]))
    ends = np.append(starts[1:], len(ordered))
    same: list[tuple[SliceRef, SliceRef, str]] = []
    damaged: list[tuple[SliceRef, SliceRef, str]] = []
    cache: dict[tuple[str, int | None], np.ndarray] = {}

    def flaw(s: SliceRef) -> str | None:
        h = headers.get(s.path)
        return h.pixels.damaged if h is not None and h.pixels is not None else None

    def sop(s: SliceRef) -> str:
        h = headers.get(s.path)
        return f"{h.sop_uid}|{s.frame}|{s.tile}" if h is not None and h.sop_uid else ""

    for a, b in zip(starts, ends, strict=True):
        if b - a < 2:
            continue
        group = list(range(a, b))
        intact = [i for i in group if not flaw(ordered[i])]
        kept = intact[0] if intact else group[0]
        for i in group:
            if i == kept:
                continue
            keep[i] = False
            s, ref = ordered[i], ordered[kept]
            if flaw(s):  # with no intact copy, the kept one fails when read, naming its damage
                damaged.append((s, ref, flaw(s)))
            elif sop(s) and sop(s) == sop(ref):
                same.append((s, ref, "same SOPInstanceUID"))
            elif headers and _same_pixels(s, ref, headers, cache):
                same.append((s, ref, "identical pixels"))
            elif not headers:  # no way to compare (a caller without headers): keep the first, as before
                same.append((s, ref, "not compared"))
            else:
                raise SeriesError(
                    f"two different images at one slice position ({distance[i]:.3f} mm along the slice normal): "
                    f"{s.path} and {ref.path} (different pixels, different SOPInstanceUIDs); remove the wrong file "
                    "or move the series apart", s.path)
    notes = []
    if same:
        named = ", ".join(f"{s.path} = {ref.path} ({how})" for s, ref, how in same[:MAX_NAMED])
        more = f" and {len(same) - MAX_NAMED} more" if len(same) > MAX_NAMED else ""
        notes.append(f"{len(same)} slice(s) at duplicate positions dropped (the same image stored twice; kept the "
                     f"first of each): {named}{more}")
    if damaged:
        named = ", ".join(f"{s.path} ({why}) for {ref.path}" for s, ref, why in damaged[:MAX_NAMED])
        more = f" and {len(damaged) - MAX_NAMED} more" if len(damaged) > MAX_NAMED else ""
        notes.append(f"{len(damaged)} damaged duplicate(s) ignored, the copy at the same position used instead: "
                     f"{named}{more}")
    return keep, notes


def _same_pixels(a: SliceRef, b: SliceRef, headers: Mapping[str, FileHeader],
                 cache: dict[tuple[str, int | None], np.ndarray]) -> bool:
    """Whether two slices hold the same values once rescaled (decoded as needed: the same image may be
    stored in two transfer syntaxes)."""
    def values(s: SliceRef) -> np.ndarray:
        fmt = headers[s.path].pixels
        key = (s.path, s.frame)
        if key not in cache:
            cache[key] = _raw_frame(s.path, s.frame, fmt)
        raw = cache[key]
        if s.tile is not None:
            r, c = divmod(s.tile, fmt.tiles_per_row)
            raw = raw[r * s.rows:(r + 1) * s.rows, c * s.cols:(c + 1) * s.cols]
        return raw.astype(np.float64) * s.slope + s.intercept

    try:
        return bool(np.array_equal(values(a), values(b)))
    except PixelDataError:
        return False


# -- pixels ------------------------------------------------------------------------------------------
class _Int16Overflow(Exception):
    """Rescaled values do not fit int16: the stack is re-read as float32."""


def _native_fast(fmt: PixelFormat) -> bool:
    return (fmt.offset is not None and fmt.bits_allocated == 16 and fmt.samples == 1 and fmt.tiles_per_row == 1
            and (fmt.bits_stored == 16 or fmt.pixel_representation == 0))


def _read_native(path: str, fmt: PixelFormat, frame: int, into: np.ndarray) -> None:
    """Read one frame's raw bytes straight into ``into`` (a C-contiguous 16-bit array)."""
    nbytes = into.nbytes
    start = fmt.offset + frame * nbytes
    if fmt.length is not None and fmt.length < (frame + 1) * nbytes:
        raise PixelDataError(f"truncated pixel data: {fmt.length} bytes stored, {fmt.n_frames * nbytes} expected",
                             path)
    try:
        with open(path, "rb") as fp:
            fp.seek(start)
            got = fp.readinto(memoryview(into).cast("B"))
    except OSError as exc:
        raise PixelDataError(f"cannot read pixel data ({exc.strerror or exc})", path) from None
    if got != nbytes:
        raise PixelDataError(f"truncated pixel data: file ends {nbytes - got} bytes early", path)
    if fmt.pixel_representation == 0 and fmt.bits_stored < 16:
        view = into.view(np.uint16)
        np.bitwise_and(view, np.uint16((1 << fmt.bits_stored) - 1), out=view)


def _decode(path: str, frame: int | None) -> np.ndarray:
    from pydicom.pixels import pixel_array

    try:
        return pixel_array(path, index=frame)
    except Exception as exc:  # decoders raise many types; all mean the same thing to the user
        raise PixelDataError(f"cannot decode pixel data ({type(exc).__name__}: {exc})", path) from None


def _to_int16_inplace(out: np.ndarray, slope: float, intercept: float, signed: bool) -> None:
    """Rescale 16-bit stored values already in ``out`` in place. Modular uint16 arithmetic gives the
    exact result whenever the true value fits int16, which the min/max check guarantees."""
    view = out.view(np.uint16)
    raw = out if signed else view
    lo, hi = int(raw.min()), int(raw.max())
    ends = (lo * slope + intercept, hi * slope + intercept)
    if min(ends) < _INT16.min or max(ends) > _INT16.max:
        raise _Int16Overflow
    if slope != 1:
        np.multiply(view, np.uint16(int(slope) % 65536), out=view)
    if intercept:
        np.add(view, np.uint16(int(intercept) % 65536), out=view)


def _store(target: np.ndarray, raw: np.ndarray, s: SliceRef) -> None:
    if target.dtype == np.float32:
        np.multiply(raw, np.float32(s.slope), out=target, casting="unsafe")
        target += np.float32(s.intercept)
        return
    values = raw.astype(np.int32) * int(s.slope) + int(s.intercept)
    if values.min() < _INT16.min or values.max() > _INT16.max:
        raise _Int16Overflow
    target[...] = values


def _fast_task(task, out: np.ndarray, formats: dict[str, PixelFormat]) -> bool:
    """Read a native 16-bit frame straight into its output plane; False when that does not apply."""
    (path, frame), items = task
    fmt = formats[path]
    if not (_native_fast(fmt) and out.dtype == np.int16 and len(items) == 1):
        return False
    index, s = items[0]
    _read_native(path, fmt, frame or 0, out[index])
    _to_int16_inplace(out[index], s.slope, s.intercept, fmt.pixel_representation == 1 or fmt.bits_stored < 16)
    return True


def _raw_frame(path: str, frame: int | None, fmt: PixelFormat) -> np.ndarray:
    """Stored values of one frame (a whole mosaic for a mosaic), decoded as needed."""
    if _native_fast(fmt):
        raw = np.empty((fmt.frame_rows, fmt.frame_cols), np.int16 if fmt.pixel_representation else np.uint16)
        _read_native(path, fmt, frame or 0, raw)
        return raw
    raw = _decode(path, frame)
    if raw.shape != (fmt.frame_rows, fmt.frame_cols):
        raise PixelDataError(f"decoded frame has shape {raw.shape}, expected {(fmt.frame_rows, fmt.frame_cols)} "
                             f"(colour or multi-sample data is not CT)", path)
    return raw


def _place(raw: np.ndarray, items, out: np.ndarray, fmt: PixelFormat) -> None:
    for index, s in items:
        plane = raw
        if s.tile is not None:
            r, c = divmod(s.tile, fmt.tiles_per_row)
            plane = raw[r * s.rows:(r + 1) * s.rows, c * s.cols:(c + 1) * s.cols]
        _store(out[index], plane, s)


@contextlib.contextmanager
def _caller_main_hidden() -> Iterator[None]:
    """While worker processes start, hide the caller's ``__main__`` from multiprocessing.

    forkserver/spawn children otherwise re-import the caller's script: a user script without an
    ``if __name__ == "__main__"`` guard would run again in every decoder worker, and ``python -c`` or
    stdin scripts could not start workers at all. The workers only need ``ivcplan.io.dicom``.
    """
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _pool(workers: int, n_tasks: int, compressed: bool):
    """Threads for disk reads; processes for compressed frames (the decoders hold the GIL), except inside
    a daemonic process (e.g. a dask/multiprocessing worker), which may not start children."""
    import multiprocessing

    if (compressed and DECODE_IN_PROCESSES and workers > 1 and n_tasks >= MIN_TASKS_FOR_PROCESSES
            and not multiprocessing.current_process().daemon):
        method = PROCESS_START_METHOD if PROCESS_START_METHOD in multiprocessing.get_all_start_methods() else "spawn"
        global _FORKSERVER_PID
        if method == "forkserver":
            if _FORKSERVER_PID not in (None, os.getpid()):
                # Forked from a process whose forkserver we started: the inherited handle is stale
                # (Python 3.11 then fails with ChildProcessError); spawn is safe here.
                method = "spawn"
            else:
                _FORKSERVER_PID = os.getpid()
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload([__name__, "pydicom.pixels"])  # workers fork from a warm server
        return ProcessPoolExecutor(max_workers=workers, mp_context=context)
    return ThreadPoolExecutor(max_workers=workers)


def read_pixels(slices: Sequence[SliceRef], headers: Sequence[FileHeader], dtype: type, *,
                workers: int | None = None, progress: ProgressCallback = no_progress) -> np.ndarray:
    """Stack the slices' HU values (rescaled) into a new (n, rows, cols) array of ``dtype``."""
    formats = {}
    for h in headers:
        if h.pixels is None:
            raise PixelDataError("no image data (no PixelData element)", h.path)
        formats[h.path] = h.pixels
    tasks: dict[tuple[str, int | None], list[tuple[int, SliceRef]]] = {}
    for i, s in enumerate(slices):
        tasks.setdefault((s.path, s.frame), []).append((i, s))
    out = np.empty((len(slices), slices[0].rows, slices[0].cols), dtype)
    items = list(tasks.items())
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        progress("Reading pixels", done / len(items))

    rest = []
    with ThreadPoolExecutor(max_workers=workers or DISK_THREADS) as pool:
        for task, fast in zip(items, pool.map(lambda t: _fast_task(t, out, formats), items), strict=True):
            if fast:
                tick()
            else:
                rest.append(task)
    if rest:
        compressed = any(not _native_fast(formats[path]) for (path, _), _ in rest)
        n_workers = workers or (os.cpu_count() or 1)
        args = ([p for (p, _), _ in rest], [f for (_, f), _ in rest], [formats[p] for (p, _), _ in rest])
        try:
            with _pool(n_workers, len(rest), compressed) as pool:
                with _caller_main_hidden():  # map() submits every task, so every worker starts in here
                    raws = pool.map(_raw_frame, *args)
                for ((path, _), task_items), raw in zip(rest, raws, strict=True):
                    _place(raw, task_items, out, formats[path])
                    tick()
        except BrokenProcessPool:
            # Worker processes could not start (e.g. a sandbox without fork): decode in threads instead,
            # slower but correct.
            log.warning("process pool unavailable; decoding %d compressed frames in threads", len(rest))
            with ThreadPoolExecutor(max_workers=n_workers) as pool:
                for ((path, _), task_items), raw in zip(rest, pool.map(_raw_frame, *args), strict=True):
                    _place(raw, task_items, out, formats[path])
    return out


# -- resampling --------------------------------------------------------------------------------------
def regularise(array: np.ndarray, stack: Stack) -> np.ndarray:
    """Resample a tilted or irregular stack onto the orthogonal, evenly spaced output grid: each output
    plane interpolates linearly between its two neighbouring source planes, each shifted in-plane by
    that slice's origin drift (gantry tilt)."""
    from scipy import ndimage

    d = stack.distance - stack.distance[0]
    n_out = int(np.floor(d[-1] / stack.step + 1e-6)) + 1
    out = np.empty((n_out, *array.shape[1:]), array.dtype)
    fill = min(FILL_HU, float(array.min()))

    def plane(j: int) -> np.ndarray:
        src = array[j].astype(np.float32)
        shift = stack.offset_px[j]
        if np.any(np.abs(shift) > 1e-3):
            src = ndimage.shift(src, shift, order=1, mode="constant", cval=fill)
        return src

    for k in range(n_out):
        z = float(np.interp(k * stack.step, d, np.arange(len(d))))
        z0 = min(int(np.floor(z)), len(d) - 1)
        w = z - z0
        value = plane(z0) if w < 1e-6 else (1 - w) * plane(z0) + w * plane(z0 + 1)
        out[k] = np.round(value) if out.dtype == np.int16 else value
    return out


# -- the series ---------------------------------------------------------------------------------------
def _output_dtype(slices: Sequence[SliceRef], headers: Sequence[FileHeader]) -> type:
    integral = all(float(s.slope).is_integer() and float(s.intercept).is_integer() for s in slices)
    small = all(h.pixels is None or h.pixels.bits_allocated <= 16 for h in headers)
    return np.int16 if integral and small else np.float32


def _problem_notes(headers: Sequence[FileHeader]) -> list[str]:
    """One warning per kind of ignored header value, naming the first file that has it."""
    seen: dict[str, list[str]] = {}
    for h in headers:
        for p in h.problems:
            seen.setdefault(p.message, []).append(h.path)
    return [f"{paths[0]}: {message}: ignored" + (f" (also in {len(paths) - 1} other file(s))" if len(paths) > 1
                                                 else "") for message, paths in seen.items()]


def load_series(info: SeriesInfo, *, require_ct: bool = True, progress: ProgressCallback | None = None,
                workers: int | None = None) -> Volume:
    """Volume of one scanned series; raises a specific error naming the file when it cannot form one."""
    progress = progress or no_progress
    headers = list(info.headers)
    first = headers[0]
    if require_ct and info.modality != "CT":
        raise NotCTError(f"modality is {info.modality or 'missing'} ({info.description or 'no description'}, "
                         f"series {info.number}); ivcplan analyses CT series only", first.path)
    bad = next((h for h in headers if h.fatal is not None), None)
    if bad is not None:  # a bad value of a file (e.g. Rows out of range) comes before "no image data"
        raise SeriesError(bad.fatal.message, bad.path)
    with_pixels = [h for h in headers if h.pixels is not None]
    if not with_pixels:
        raise PixelDataError(f"no image data in series {info.number} ({info.modality}); "
                             "SR/presentation objects hold no pixels", first.path)
    slices, notes = stack_slices(with_pixels)
    if not slices:
        raise SeriesError("the series holds only localizer images", first.path)
    if len(slices) == 1:
        raise SeriesError("single slice: a volume needs at least 2 slices", slices[0].path)
    by_path = {h.path: h for h in with_pixels}
    try:
        stack = plan_stack(slices, by_path)
    except SeriesError as exc:  # say which ignored header value it lacked, if any
        header = by_path.get(exc.path or "")
        if header is None or not header.problems:
            raise
        raise SeriesError(f"{str(exc).removeprefix(f'{exc.path}: ')} (header: "
                          f"{'; '.join(p.message for p in header.problems)})", exc.path) from None
    used = {s.path for s in stack.slices}
    used_headers = [h for h in with_pixels if h.path in used]
    for h in used_headers:  # declared sizes against stored data, before the output array is allocated
        if h.pixels.damaged and h.pixels.offset is not None:
            raise PixelDataError(h.pixels.damaged, h.path)
    notes = list(notes) + _problem_notes(used_headers)
    absent = [h.path for h in used_headers if h.rescale_absent]
    if absent and info.modality == "CT":
        notes.append(f"RescaleSlope/RescaleIntercept absent in {len(absent)} file(s) (e.g. {absent[0]}): "
                     "stored values taken as HU")
    dtype = _output_dtype(stack.slices, used_headers)
    try:
        array = read_pixels(stack.slices, used_headers, dtype, workers=workers, progress=progress)
    except _Int16Overflow:
        log.info("rescaled values exceed int16 in %s: reading as float32", first.path)
        array = read_pixels(stack.slices, used_headers, np.float32, workers=workers, progress=progress)
    if not stack.regular:
        array = regularise(array, stack)
    ref = stack.slices[0]
    grid = Grid(array.shape, (stack.step, *stack.pixel_spacing), ref.position, stack.direction)
    files = list(dict.fromkeys(s.path for s in stack.slices))
    meta = {
        "source_path": os.path.commonpath(files) if len(files) > 1 else files[0],
        "series_instance_uid": info.uid,
        "study_instance_uid": first.study_uid,
        "modality": info.modality,
        "series_description": info.description,
        "patient_position": first.patient_position,
        "transfer_syntax": info.transfer_syntax,
        "contrast_agent": first.contrast_agent,
        "series_number": info.series_number,
        "patient_id": first.patient_id,
        "chosen_reason": info.reason or f"series {info.number} selected by the caller",
        "source_files": files,
        "slice_thickness_mm": ref.thickness,
        "positions_synthesized": stack.synthetic_positions,
        "rescale_absent": bool(absent),
    }
    warnings = tuple(notes) + stack.warnings
    for w in warnings:
        log.warning("%s: %s", meta["source_path"], w)
    return Volume(array, grid, meta, warnings)
