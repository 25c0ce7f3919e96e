"""The report's ``provenance`` section: what produced it, from which rules, for which study.

``ivcplan_version``, ``rules_file`` (a name, never a local absolute path) and ``rules_sha256`` (which
identifies the rules), ``created_utc``, and the study's ``patient_id``, ``study_date`` and
``accession_number`` when the DICOM has them. With ``anonymize`` those three (and the input's local
path) are left out: ``anonymized`` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: DICOM keywords read from the first file of the series when the loader's metadata lacks them.
STUDY_TAGS = {"patient_id": "PatientID", "study_date": "StudyDate", "accession_number": "AccessionNumber"}


def _from_dicom(meta: Mapping[str, Any]) -> dict[str, str | None]:
    """Study identifiers from the loader's metadata, else from the first DICOM file's header."""
    out: dict[str, str | None] = {key: (str(meta[key]) or None) if meta.get(key) else None for key in STUDY_TAGS}
    files = meta.get("source_files") or ()
    if all(out.values()) or not files or not meta.get("transfer_syntax"):  # not a DICOM series
        return out
    try:
        import pydicom

        ds = pydicom.dcmread(str(files[0]), stop_before_pixels=True, specific_tags=list(STUDY_TAGS.values()))
    except Exception as exc:  # an unreadable header leaves the identifiers unknown, it does not fail the report
        log.warning("%s: study identifiers not read for the provenance: %s", files[0], exc)
        return out
    for key, keyword in STUDY_TAGS.items():
        if out[key] is None:
            value = str(ds.get(keyword, "") or "").strip()
            out[key] = value or None
    return out


def section(meta: Mapping[str, Any], *, rules_name: str, rules_sha256: str, anonymize: bool = False,
            now: datetime | None = None) -> dict[str, Any]:
    """The ``provenance`` section of report.json."""
    import ivcplan

    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    study = {key: None for key in STUDY_TAGS} if anonymize else _from_dicom(meta)
    return {"ivcplan_version": ivcplan.__version__, "rules_file": Path(rules_name).name if "/" in rules_name
            else rules_name, "rules_sha256": rules_sha256, "created_utc": created.isoformat().replace("+00:00", "Z"),
            **study, "anonymized": bool(anonymize)}
