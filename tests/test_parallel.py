"""The thread budget and helper threads whose log records belong to the thread they work for."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ivcplan import parallel
from ivcplan.batch.worker import _ThreadFilter


def test_thread_budget_is_set_and_reset() -> None:
    previous = parallel._THREADS  # other tests in this process (a Dask worker's share) may have set it
    try:
        parallel.set_threads(3)
        assert parallel.available_threads() == 3
        parallel.set_threads(None)
        assert parallel.available_threads() == len(os.sched_getaffinity(0))
        with pytest.raises(ValueError, match="threads"):
            parallel.set_threads(0)
    finally:
        parallel.set_threads(previous)


def test_records_of_a_helper_thread_reach_the_callers_case_log() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("ivcplan.test_parallel")
    handler = Keep()
    handler.addFilter(_ThreadFilter(threading.get_ident()))  # a case log: this thread's records only
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            parallel.run_beside(pool, logger.info, "from the helper").result()
            pool.submit(logger.info, "from another case's thread").result()
        logger.info("from the case")
        results = parallel.side_by_side((logger.info, ("from a side-by-side call",)), (sum, ([1, 2],)),
                                        (max, ((3, 7),)))
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["from the helper", "from the case", "from a side-by-side call"]
    assert results == [None, 3, 7]  # in the order given
    assert parallel.owner_of(None) is None  # a record without a thread belongs to no case
    assert parallel.owner_of(threading.get_ident()) == threading.get_ident()
