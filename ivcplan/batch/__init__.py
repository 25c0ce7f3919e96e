"""Headless batch: run the pipeline over every CT series under a folder, in parallel, resumably.

``run_batch(root, outdir, jobs=..., outputs=..., memory_limit=..., scheduler=...)`` discovers the
cases (`discover`), skips those already finished, runs the others on local worker processes or a Dask
cluster (`ivcplan.batch.worker.run_case` per case) and writes ``summary.csv``/``summary.json``.
"""

from ivcplan.batch.discover import Case, Discovery, discover, fingerprint, safe_name
from ivcplan.batch.runner import (
    EXIT_NONE_SUCCEEDED,
    EXIT_OK,
    EXIT_PARTIAL,
    BatchEvent,
    BatchResult,
    default_jobs,
    parse_memory,
    run_batch,
)
from ivcplan.batch.worker import FAILED, NO_IVC, OK

__all__ = ["EXIT_NONE_SUCCEEDED", "EXIT_OK", "EXIT_PARTIAL", "FAILED", "NO_IVC", "OK", "BatchEvent", "BatchResult",
           "Case", "Discovery", "default_jobs", "discover", "fingerprint", "parse_memory", "run_batch", "safe_name"]
