"""Hooks other apps register at start-up to hear about the verification workflow.

The central sync sits above verification: it registers here, so an approval can record and queue the push to
the centre without verification importing the sync (the dependency arrow keeps running one way).

Two moments: ``rounds_approving`` runs *inside* the approval's transaction, so what must go up is written in
the same commit as the approval (a transactional outbox: the central sync freezes the submission there, and
its worker drains pending submissions on every scheduled push). ``rounds_approved`` runs after the commit to
queue an immediate push; if that fails (a broker outage), nothing is lost - the submission waits in the
database for the next scheduled push - and the caller is told delivery is pending.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
_while_approving: list[Callable[[list[int]], None]] = []
_after_approval: list[Callable[[list[int]], None]] = []


def on_rounds_approving(callback: Callable[[list[int]], None]) -> Callable[[list[int]], None]:
    """Register ``callback(round_ids)`` to run inside the approval's transaction (once per registration).

    Its failure rolls the approval back: the approval and the record of what it sends commit together."""
    if callback not in _while_approving:
        _while_approving.append(callback)
    return callback


def on_rounds_approved(callback: Callable[[list[int]], None]) -> Callable[[list[int]], None]:
    """Register ``callback(round_ids)`` to run after rounds are approved (once per registration)."""
    if callback not in _after_approval:
        _after_approval.append(callback)
    return callback


def rounds_approving(round_ids: list[int]) -> None:
    for callback in _while_approving:
        callback(round_ids)


def rounds_approved(round_ids: list[int]) -> bool:
    """Run the after-commit hooks; False when one of them failed (the push then waits for the schedule)."""
    ok = True
    for callback in _after_approval:
        try:
            callback(round_ids)
        except Exception:
            # The approval and its submission are committed and stay; the scheduled push will send them.
            log.warning("after-approval hook %s failed", getattr(callback, "__name__", callback), exc_info=True)
            ok = False
    return ok
