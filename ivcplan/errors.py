"""Exceptions raised by ivcplan. Each subclasses a built-in so callers can catch broadly.

Messages say what was wrong (naming the file or argument) and what to do.
"""

from __future__ import annotations


class IvcplanError(Exception):
    """Base class of every ivcplan error."""


class GeometryError(IvcplanError, ValueError):
    """An invalid grid: bad spacing, origin, direction or mismatched shapes."""


class InputError(IvcplanError, ValueError):
    """An input path or file that cannot be used (names the file and the problem)."""

    def __init__(self, message: str, path: object | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class OptionError(InputError):
    """A command-line option or argument that cannot be used (names the option and the problem)."""


class IntensityError(InputError):
    """Image values that do not look like Hounsfield units (a CT cannot be analysed from them)."""


class OutputError(IvcplanError, OSError):
    """The output folder cannot be created, written or published (names the folder and the problem)."""

    def __init__(self, message: str, path: object | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotDicomError(InputError):
    """The file is not a DICOM file."""


class UnreadableFileError(InputError):
    """A file that looks like DICOM (or was named as input) but cannot be read: damaged header, no permission,
    not a regular file."""


class NotCTError(InputError):
    """The series is not a CT image series (MR, SEG, SR, ...)."""


class SeriesError(InputError):
    """A series that cannot form a volume (single slice, inconsistent matrix, bad spacing...)."""


class PixelDataError(InputError):
    """Pixel data missing, truncated or in a transfer syntax that cannot be decoded."""


class SegmentationError(IvcplanError, RuntimeError):
    """Segmentation could not produce a usable result."""


class AnalysisError(IvcplanError, RuntimeError):
    """A downstream stage (centerline, landmarks, measurement) could not proceed."""


class RulesError(IvcplanError, ValueError):
    """An invalid rules/config file (names the file, line and problem)."""


class NotApplicableError(IvcplanError, LookupError):
    """An output kind that does not apply to this analysis (a DICOM SEG of a NIfTI CT, meshes of an
    empty segmentation): nothing is written and the reason is reported."""
