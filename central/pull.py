"""``sync_central pull`` without Celery: the same services as the tasks, with the page ranges of a large batch
staged by several processes of the command.

A batch larger than one range (``CENTRAL_INGEST_RANGE_PAGES``) is downloaded and staged range by range, as
the Celery page-range tasks do: each range's pages are read back for staging while they are still in the
database's cache, and ranges go to ``CENTRAL_PULL_PROCESSES`` processes at once (validation is Python, one
core per process; the apply stays one transaction). The staging records decide which ranges are done, so a
pull interrupted half-way carries on from there, by this command or by a worker.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

from django.db import DatabaseError, InterfaceError, connection, connections

from . import services
from .client import CentralClient, CentralUnavailable
from .models import BatchState
from .tasks import TASK_RETRY


def retrying(call, *, stderr=None):
    """Call until it stops raising CentralUnavailable, backing off as the Celery tasks do."""
    for attempt in range(TASK_RETRY["max_retries"] + 1):
        try:
            return call()
        except CentralUnavailable as exc:
            if attempt == TASK_RETRY["max_retries"]:
                raise
            delay = random.uniform(0, min(TASK_RETRY["retry_backoff_max"], TASK_RETRY["retry_backoff"] * 2 ** attempt))  # noqa: S311 - jitter
            if stderr:
                stderr.write(f"centre unavailable ({exc}); retrying in {delay:.1f}s")
            time.sleep(delay)
    return None


def _stage_one(batch_pk: int, first: int, last: int, client: CentralClient) -> str:
    return retrying(lambda: services.batch_stage_pages(batch_pk=batch_pk, first=first, last=last, client=client))


def _forget_inherited_connections() -> None:
    """First thing in a forked child: drop the database connections copied from the parent without a word on
    their sockets (closing them the usual way would end the parent's session too), as Celery's prefork
    workers do. The child then opens its own."""
    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is None:
            continue
        with contextlib.suppress(OSError, AttributeError, ValueError):
            os.close(raw.fileno())
        with contextlib.suppress(DatabaseError, InterfaceError, OSError):
            conn.close()
        conn.connection = None


def _stage_in_child(batch_pk: int, first: int, last: int) -> str:
    """One range, in a process of the pool: its own client and its own database connection."""
    try:
        return _stage_one(batch_pk, first, last, CentralClient())
    finally:
        connections.close_all()


def stage_ranges(batch_pk: int, ranges: list[tuple[int, int]], *, processes: int, client: CentralClient) -> str:
    """Download and stage these ranges of the batch, ``processes`` at a time; returns the batch's state when
    a range held it, else ``services.LAST_RANGE`` or ``services.STAGED``.

    Other processes see only committed rows: inside a transaction (a test's, say) the ranges are staged
    here, one after the other."""
    outcomes = []
    if processes <= 1 or len(ranges) <= 1 or connection.in_atomic_block:
        for first, last in ranges:
            outcomes.append(_stage_one(batch_pk, first, last, client))
            if outcomes[-1] == BatchState.QUARANTINED:
                break
    else:
        # Forked children must not share this process's database socket: it is closed here and each child
        # opens its own (this process reconnects when it next needs one); whatever is still open is dropped
        # in the child without touching the socket.
        connections.close_all()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(processes, len(ranges)), mp_context=context,
                                 initializer=_forget_inherited_connections) as pool:
            futures = [pool.submit(_stage_in_child, batch_pk, first, last) for first, last in ranges]
            done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception()), None)
            if failed:
                for future in futures:
                    future.cancel()
                raise failed.exception()
            outcomes = [future.result() for future in futures]
    if BatchState.QUARANTINED in outcomes:
        return BatchState.QUARANTINED
    return services.LAST_RANGE if services.LAST_RANGE in outcomes else services.STAGED


def pull(*, client: CentralClient, regency: str = "", processes: int = 1, stderr=None) -> dict:
    """Discover new batches and download and apply every pending one; ``{"batches_new", "batch_outcomes"}``."""
    new = retrying(lambda: services.batches_discover(client=client, regency=regency), stderr=stderr)
    outcome = {}
    for batch_pk in services.batches_pending():
        try:
            ranges = retrying(lambda pk=batch_pk: services.batch_ranges_to_stage(batch_pk=pk, client=client),
                              stderr=stderr)
            if ranges:
                stage_ranges(batch_pk, ranges, processes=processes, client=client)
            state = retrying(lambda pk=batch_pk: services.batch_sync(batch_pk=pk, client=client),
                             stderr=stderr).state
        except CentralUnavailable:
            state = "failed"
        outcome[state] = outcome.get(state, 0) + 1
    return {"batches_new": len(new), "batch_outcomes": outcome}
