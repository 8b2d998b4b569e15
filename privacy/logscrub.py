"""No NIK or KK number in the application's logs.

``ScrubPersonalData`` is installed on the root handler by ``settings.LOGGING`` (and on a Celery worker's
handlers by ``PrivacyConfig.ready``): it masks every 16-digit number in a record's message, its arguments and
its traceback before any handler writes it. Names cannot be recognised this way: code logs ids, not names.
"""
from __future__ import annotations

import logging
import numbers

from .masking import mask_numbers_in_text


def _scrub(value):
    if isinstance(value, str):
        return mask_numbers_in_text(value)
    if isinstance(value, numbers.Number) or value is None:
        return value
    # Anything else (an exception, a model, a dict) is formatted now, masked, and logged as that text.
    return mask_numbers_in_text(str(value))


class ScrubPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _scrub(record.msg) if isinstance(record.msg, str) else _scrub(str(record.msg))
        if isinstance(record.args, dict):
            record.args = {key: _scrub(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_scrub(value) for value in record.args)
        if record.exc_info and not record.exc_text:
            # The formatter would render the traceback later, unmasked; render it here and keep the masked text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_numbers_in_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_numbers_in_text(record.stack_info)
        return True


def install_on_handlers(logger=None, **_kwargs) -> None:
    """Add the filter to every handler of ``logger`` (a Celery signal's argument) that lacks it."""
    for handler in getattr(logger, "handlers", ()):
        if not any(isinstance(f, ScrubPersonalData) for f in handler.filters):
            handler.addFilter(ScrubPersonalData())
