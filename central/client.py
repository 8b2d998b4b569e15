"""The one HTTP client for the central DTSEN/Pusdatin service (the mock in development and tests).

Transient trouble (timeouts, dropped connections, 5xx, 429, a truncated or unparsable answer, a page that
is not the one asked for or fails its checksum) is retried here with exponential backoff and full jitter,
so the Celery tasks and ``sync_central`` behave the same. When the attempts run out the client raises
``CentralUnavailable`` and the caller records the error and tries again later; a refusal that retrying
cannot fix (4xx) raises ``CentralRefused``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .protocol import canonical_json

log = logging.getLogger(__name__)

TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class CentralError(Exception):
    """Something went wrong talking to the centre."""


class CentralUnavailable(CentralError):
    """The centre did not answer usefully within the retry budget; try again later."""


class CentralRefused(CentralError):
    """The centre refused the request (4xx); retrying the same request will not help."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class CentralBadData(CentralError):
    """The centre kept sending data that fails its own checksum: hold the batch, do not apply it."""


class _Retry(Exception):
    """A problem with one answer; the request is tried again. ``data`` marks a content problem
    (wrong page, bad checksum) rather than a transport one."""

    def __init__(self, message: str, data: bool = False):
        super().__init__(message)
        self.data = data


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, attempt: int) -> float:
        # Full jitter: spreads retries of many workers so they do not hit a recovering centre together.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))


class CentralClient:
    def __init__(self, base_url: str | None = None, token: str | None = None, timeout: float | None = None,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep):
        self.base_url = (base_url or settings.CENTRAL_API_URL).rstrip("/")
        self.timeout = timeout or settings.CENTRAL_API_TIMEOUT
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token if token is not None else settings.CENTRAL_API_TOKEN}"
        self.session.headers["Accept"] = "application/json"

    # -- transport -------------------------------------------------------------------------------------
    def _once(self, method: str, path: str, rows: str = "", **kwargs) -> tuple[int, dict]:
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
            body = _canonical_page(response.content, rows) if rows and response.status_code == 200 else None
            if body is None:
                body = response.json() if response.content else {}
                if isinstance(body, dict):
                    body.pop(CANONICAL, None)  # only ever set by this client, never taken from the centre
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError, ValueError, RecursionError) as exc:
            # ValueError: a truncated or garbled body that is not JSON; RecursionError: one nested too deep.
            # The exception's own text (hosts, ports, pool internals) goes to the log, not to the sync page.
            log.info("central %s %s: %s", method, path, str(exc)[:300])
            raise _Retry(type(exc).__name__) from None
        if not isinstance(body, dict):
            # Every answer of the centre's API is a JSON object; a list or a bare value is a garbled answer.
            raise _Retry(f"answer is a JSON {type(body).__name__}, not an object")
        if response.status_code in TRANSIENT_STATUS:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise CentralRefused(response.status_code, str(body.get("code", "")), str(body.get("message", "")))
        return response.status_code, body

    def request(self, method: str, path: str, *, check: Callable[[dict], None] | None = None,
                **kwargs) -> dict:
        """One logical request, retried until it succeeds, is refused, or the attempts run out.

        ``rows="families"`` (a page's rows key): when the centre sends the page as canonical JSON whose rows
        hash to the page checksum, the answer carries the rows only as those bytes (``CANONICAL``), not
        decoded; otherwise the whole answer is decoded as usual."""
        last, data_problem = "", False
        for attempt in range(self.policy.attempts):
            try:
                _status, body = self._once(method, path, **kwargs)
                if check:
                    check(body)
                return body
            except _Retry as exc:
                last, data_problem = str(exc), exc.data
                log.info("central %s %s: %s (attempt %d)", method, path, last, attempt + 1)
                if attempt + 1 < self.policy.attempts:
                    self.sleep(self.policy.delay(attempt))
        detail = {"attempts": self.policy.attempts, "detail": f"{method} {path}: {last}"}
        if data_problem:
            raise CentralBadData(_("The centre kept sending data that does not match its checksum (%(attempts)d "
                                   "attempts); the batch is held until the centre sends it again. Details: "
                                   "%(detail)s") % detail)
        raise CentralUnavailable(_("The centre did not answer after %(attempts)d attempts; the portal tries again "
                                   "by itself. Details: %(detail)s") % detail)

    # -- the centre's API ------------------------------------------------------------------------------
    def batches(self, *, since: str = "", regency: str = "", limit: int = 100) -> dict:
        params = {"limit": limit, **({"since": since} if since else {}), **({"regency": regency} if regency else {})}
        return self.request("GET", "/v1/batches", params=params, check=_listing_check("batches", BATCH_FIELDS))

    def batch_page(self, batch_id: str, number: int, *, decoded: bool = True) -> dict:
        """One page of a batch, checked against its checksum, with its rows' canonical bytes (``CANONICAL``).
        ``decoded=False``: the families may come only as those bytes (whoever stores the page decodes it
        later anyway), which spares decoding and re-encoding a page the centre sent in canonical form."""
        return self.request("GET", f"/v1/batches/{batch_id}/pages/{number}",
                            check=_page_check(number, "families"), rows="" if decoded else "families")

    def batch_page_checksums(self, batch_id: str) -> list[str]:
        """Every page's checksum in page order (empty when the centre does not offer the list)."""
        try:
            body = self.request("GET", f"/v1/batches/{batch_id}/pages")
        except CentralRefused:
            return []
        checksums = body.get("checksums")
        if not isinstance(checksums, list) or not all(isinstance(c, str) and len(c) == 64 for c in checksums):
            return []
        return checksums

    def submit(self, *, idempotency_key: str, payload: dict) -> dict:
        """Send one page of a submission; every page and every retry of one submission uses the same key."""
        return self.request("POST", "/v1/submissions", json=payload, headers={"Idempotency-Key": idempotency_key})

    def submission(self, receipt_id: str) -> dict:
        return self.request("GET", f"/v1/submissions/{receipt_id}")

    def submission_outcomes(self, receipt_id: str, *, since: str = "", limit: int = 500) -> dict:
        params = {"limit": limit, **({"since": since} if since else {})}
        return self.request("GET", f"/v1/submissions/{receipt_id}/outcomes", params=params)

    def family(self, central_id: str) -> dict:
        """The centre's current record of one family (what it holds after applying submissions)."""
        return self.request("GET", f"/v1/families/{central_id}")

    def determinations(self, *, since: str = "", regency: str = "", limit: int = 500) -> dict:
        params = {"limit": limit, **({"since": since} if since else {}), **({"regency": regency} if regency else {})}
        return self.request("GET", "/v1/determinations", params=params,
                            check=_listing_check("determinations", DETERMINATION_FIELDS))

    def desil_publications(self, *, since: str = "", limit: int = 50) -> dict:
        return self.request("GET", "/v1/desil/publications", params={"limit": limit, **({"since": since} if since
                                                                                      else {})},
                            check=_listing_check("publications", PUBLICATION_FIELDS))

    def desil_page(self, period: str, number: int) -> dict:
        return self.request("GET", f"/v1/desil/publications/{period}/pages/{number}", check=_page_check(number, "rows"))


# What the items of each listing must hold before a service stores them: field -> (kind, longest text, required).
# The lengths are the columns'; a count is a non-negative 32-bit integer. An answer that breaks them is a
# garbled answer like one that fails its checksum: asked again, then CentralBadData.
BATCH_FIELDS = {"batch_id": ("text", 60, True), "regency": ("text", 13, False), "programme": ("text", 30, False),
                "published_at": ("datetime", 40, False), "family_count": ("count", 0, False),
                "member_count": ("count", 0, False), "page_size": ("count", 0, False),
                "page_count": ("count", 0, False), "checksum": ("text", 64, False), "deadline": ("text", 40, False),
                "cycle": ("text", 20, False)}
DETERMINATION_FIELDS = {"determination_id": ("text", 40, True), "central_id": ("text", 32, True),
                        "village_code": ("text", 13, True), "programme": ("text", 30, True),
                        "period": ("text", 7, True), "status": ("text", 20, False), "receipt_id": ("text", 40, False)}
PUBLICATION_FIELDS = {"period": ("date", 10, True), "row_count": ("count", 0, False),
                      "page_count": ("count", 0, False), "checksum": ("text", 64, False)}
MAX_CURSOR_LENGTH = 100  # the column the next cursor is stored in


def _field_ok(value, kind: str, longest: int) -> bool:
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
    if not isinstance(value, str) or len(value) > longest:
        return False
    try:
        if kind == "datetime":
            return parse_datetime(value) is not None
        if kind == "date":
            dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _listing_check(key: str, fields: dict) -> Callable[[dict], None]:
    def check(body: dict) -> None:
        items, cursor = body.get(key, []), body.get("next_cursor")
        if not isinstance(items, list) or not isinstance(body.get("has_more", False), bool) \
                or not (cursor is None or (isinstance(cursor, str) and len(cursor) <= MAX_CURSOR_LENGTH)):
            raise _Retry(f"{key}: the listing is not in the agreed shape", data=True)
        for item in items:
            if not isinstance(item, dict) or any(
                    (required if item.get(name) is None else not _field_ok(item[name], kind, longest))
                    for name, (kind, longest, required) in fields.items()):
                raise _Retry(f"{key}: an item is not in the agreed shape", data=True)
    return check


CANONICAL = "canonical"  # added to a page's answer: its rows as the canonical bytes the checksum covers


def _canonical_page(content: bytes, key: str) -> dict | None:
    """The answer without its ``key`` rows, which are kept as the bytes they came in (``CANONICAL``), when
    the answer is canonical JSON and those bytes hash to the answer's checksum; None otherwise (the caller
    decodes the answer in full, and its check hashes the rows' canonical form)."""
    marker = f'"{key}":['.encode()
    start = content.find(marker)
    if start < 0:
        return None
    start += len(marker) - 1
    end = content.rfind(b"],", start) + 1  # the rows' closing bracket: keys after them sort later
    if end <= start:
        return None
    rows = content[start:end]
    try:
        # The rest is a few short fields; the hash below decides whether the cut was the rows.
        body = json.loads(content[:start] + b"null" + content[end:])
        rows.decode("utf-8")
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or body.get(key, 0) is not None or \
            hashlib.sha256(rows).hexdigest() != body.get("checksum"):
        return None
    del body[key]
    body[CANONICAL] = rows
    return body


def _page_check(number: int, key: str) -> Callable[[dict], None]:
    def check(body: dict) -> None:
        # A page served twice, out of order or corrupted in transit is simply asked for again.
        if body.get("page") != number:
            raise _Retry(f"asked for page {number}, got page {body.get('page')}")
        if CANONICAL in body:
            return  # its rows' bytes hashed to the checksum as they arrived (_canonical_page)
        # Encoded and hashed once here; the caller stores these very bytes, so nothing re-encodes or re-hashes
        # the page later.
        canonical = canonical_json(body.get(key))
        if hashlib.sha256(canonical).hexdigest() != body.get("checksum"):
            raise _Retry(f"page {number}: checksum does not match its content", data=True)
        body[CANONICAL] = canonical
    return check
