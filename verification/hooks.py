"""Hooks other apps register at start-up to hear about the verification workflow once it has committed.

The central sync sits above verification: it registers here, so an approval can queue the push to the
centre without verification importing the sync (the dependency arrow keeps running one way). A hook runs
after the transaction commits; if it fails (a broker outage), the approved rounds are still picked up by
the next scheduled push, because the round's state is the record of what must go up.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
_after_approval: list[Callable[[list[int]], None]] = []


def on_rounds_approved(callback: Callable[[list[int]], None]) -> Callable[[list[int]], None]:
    """Register ``callback(round_ids)`` to run after rounds are approved (once per registration)."""
    if callback not in _after_approval:
        _after_approval.append(callback)
    return callback


def rounds_approved(round_ids: list[int]) -> None:
    for callback in _after_approval:
        try:
            callback(round_ids)
        except Exception:
            # The approval is committed and stays; the scheduled push will send the rounds.
            log.warning("after-approval hook %s failed", getattr(callback, "__name__", callback), exc_info=True)
