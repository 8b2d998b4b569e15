"""The mock central's HTTP side: a threaded stdlib server, routing, bearer auth, JSON answers, fault injection.

Every error body is ``{"code": "<snake_case>", "message": "..."}``. Faults apply to ``/v1`` only, after
authentication and routing, so an injected failure always looks like a real, routed request that went wrong.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hmac
import json
import re
import socket
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from central.protocol import checksum
from registry.synthetic import generate_households, publication_periods

from .faults import Faults, FaultSettingsError
from .payload import InvalidSubmission, UnsupportedProtocol, parse_date, parse_page
from .store import CanonicalAnswer, IdempotencyConflict, InvalidCursor, NotDecided, RefConflict, Store

MOCK_SERIAL_BASE = 5000
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_BODY_BYTES = 50 * 1024 * 1024
MAX_HOUSEHOLDS = 100_000
PERIOD_RE = re.compile(r"^\d{4}-\d{2}-20$")
CYCLE_RE = re.compile(r"^\d{4}-Q[1-4]$")


def load_villages(path: Path | str) -> dict[str, list[tuple[str, str]]]:
    """Villages (code, name) per regency from a ``code,name`` region file; village codes have three dots."""
    villages: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            if len(row) >= 2 and row[0].count(".") == 3:
                code = row[0].strip()
                villages[".".join(code.split(".")[:2])].append((code, row[1].strip()))
    return dict(villages)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def body(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass
class Request:
    method: str
    path: str
    params: dict
    query: dict[str, list[str]]
    headers: object
    body: bytes
    duplicate: bool = False

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self, *, code: str = "invalid_json") -> dict:
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, code, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, code, "the body must be a JSON object")
        return data


class MockCentralServer(ThreadingHTTPServer):
    """Holds what every request needs: the store, the faults, the token and the generator's defaults."""

    daemon_threads = True  # a request hanging on purpose must not block shutdown
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, store: Store, faults: Faults, token: str, page_size: int,
                 villages: dict[str, list[tuple[str, str]]], households: int = 3000, seed: int = 2025,
                 programme: str = "PKH", verbose: bool = False):
        self.store, self.faults, self.token, self.page_size = store, faults, token, page_size
        self.villages, self.households, self.seed, self.programme = villages, households, seed, programme
        self.verbose = verbose
        super().__init__(address, Handler)

    def publish_generated_batch(self, regency: str, programme: str, households: int, seed: int, *,
                                deadline: dt.date | None = None, cycle: str | None = None) -> dict:
        # Serials from 5000 up: the centre's people never share a NIK/KK with a portal's seed_demo families.
        families = generate_households(self.villages[regency], households, seed, as_of=dt.date.today(),
                                       serial_base=MOCK_SERIAL_BASE)
        return self.store.publish_batch(regency, programme, families, self.page_size, deadline=deadline,
                                        cycle=cycle)


def _limit(request: Request) -> int:
    raw = request.arg("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "invalid_parameter", "limit must be a positive whole number")
    return min(int(raw), MAX_LIMIT)


def _cursor_call(function, *args):
    try:
        return function(*args)
    except InvalidCursor:
        raise ApiError(400, "invalid_cursor", "since must be a next_cursor from an earlier answer") from None


class Handler(BaseHTTPRequestHandler):
    server: MockCentralServer
    protocol_version = "HTTP/1.1"  # keep-alive, as a client's connection pool expects
    # Headers and body leave in separate writes; with Nagle's algorithm the body waits for the client's delayed
    # ACK of the headers (about 40 ms per small response on a kept-alive connection).
    disable_nagle_algorithm = True
    server_version = "MockCentral/1.0"

    # (method, path pattern, handler method name, is a page request)
    ROUTES = (
        ("GET", r"/v1/batches", "list_batches", False),
        ("GET", r"/v1/batches/(?P<batch_id>[^/]+)", "get_batch", False),
        ("GET", r"/v1/batches/(?P<batch_id>[^/]+)/pages", "get_batch_page_checksums", False),
        ("GET", r"/v1/batches/(?P<batch_id>[^/]+)/pages/(?P<page>\d+)", "get_batch_page", True),
        ("POST", r"/v1/submissions", "post_submission", False),
        ("GET", r"/v1/submissions/(?P<receipt_id>[^/]+)", "get_receipt", False),
        ("GET", r"/v1/submissions/(?P<receipt_id>[^/]+)/outcomes", "list_outcomes", False),
        ("GET", r"/v1/families/(?P<central_id>[^/]+)", "get_family", False),
        ("GET", r"/v1/determinations", "list_determinations", False),
        ("GET", r"/v1/desil/publications", "list_publications", False),
        ("GET", r"/v1/desil/publications/(?P<period>[^/]+)/pages/(?P<page>\d+)", "get_publication_page", True),
        ("GET", r"/stats", "get_stats", False),
        ("GET", r"/admin/faults", "get_faults", False),
        ("PUT", r"/admin/faults", "put_faults", False),
        ("POST", r"/admin/publish-batch", "publish_batch", False),
        ("POST", r"/admin/accept-submissions", "accept_submissions", False),
        ("POST", r"/admin/publish-desil", "publish_desil", False),
    )
    COMPILED = tuple((method, re.compile(f"^{pattern}$"), name, page) for method, pattern, name, page in ROUTES)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PATCH(self):
        self._handle("PATCH")

    def send_error(self, code, message=None, explain=None):
        # The stdlib answers malformed requests and unknown methods in HTML; keep the JSON error shape.
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._send(code, {"code": re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_"),
                          "message": message or explain or phrase})

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    # Plumbing ---------------------------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        try:
            self._dispatch(method)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (typically during an injected hang): nobody is left to answer.
            self.close_connection = True
        except Exception:  # one bad request must answer 500, not kill the thread silently
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(500, {"code": "internal_error", "message": "unexpected error in the mock central"})

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise ApiError(411, "length_required", "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would corrupt the next request on this connection
            raise ApiError(413, "payload_too_large", f"the body must be 0 to {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length) if length else b""

    def _route(self, method: str, path: str) -> tuple[str, dict, bool]:
        allowed = []
        for route_method, pattern, name, page in self.COMPILED:
            match = pattern.match(path)
            if match:
                if route_method == method:
                    return name, match.groupdict(), page
                allowed.append(route_method)
        if allowed:
            raise ApiError(405, "method_not_allowed", f"{method} is not allowed on {path}",
                           {"Allow": ", ".join(allowed)})
        raise ApiError(404, "not_found", f"no such endpoint: {path}")

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.server.token.encode())

    def _dispatch(self, method: str) -> None:
        server = self.server
        server.store.bump("requests_total")
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        try:
            body = self._read_body()
            if path == "/health":
                if method != "GET":
                    raise ApiError(405, "method_not_allowed", f"{method} is not allowed on /health", {"Allow": "GET"})
                self._send(200, {"status": "ok"})
                return
            if not self._authorized():
                raise ApiError(401, "unauthorized", "a valid 'Authorization: Bearer <token>' header is required",
                               {"WWW-Authenticate": 'Bearer realm="mock-central"'})
            name, params, is_page = self._route(method, path)
        except ApiError as error:
            self._send(error.status, error.body(), error.headers)
            return
        request = Request(method, path, params, parse_qs(url.query, keep_blank_values=True), self.headers, body)

        fault, settings = None, server.faults.settings
        if path.startswith("/v1/"):
            if settings.latency_ms:
                time.sleep(settings.latency_ms / 1000)
            fault = server.faults.roll(page=is_page)
            if fault:
                server.store.bump(f"faults_{fault}")
        if fault == "fail" and not (name == "post_submission" and server.faults.coin()):
            self._send_injected_failure()
            return
        if fault == "timeout":
            time.sleep(settings.hang_seconds)
        request.duplicate = fault == "duplicate"
        try:
            status, payload = getattr(self, name)(request)
            headers = {}
        except ApiError as error:
            status, payload, headers = error.status, error.body(), error.headers
        if fault == "fail":
            # The other half of the failures on submissions: stored, but the acknowledgement is lost.
            self._send_injected_failure()
        elif fault == "drop":
            self._send_dropped(status, payload)
        else:
            self._send(status, payload, headers)

    def _encode(self, status: int, payload: dict | CanonicalAnswer, headers: dict | None = None) -> bytes:
        if isinstance(payload, CanonicalAnswer):
            data = payload.data
        else:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        return data

    def _send(self, status: int, payload: dict | CanonicalAnswer, headers: dict | None = None) -> None:
        data = self._encode(status, payload, headers)
        self.wfile.write(data)

    def _send_injected_failure(self) -> None:
        status = self.server.faults.choice((500, 503))
        self._send(status, {"code": "injected_failure", "message": f"injected failure ({status})"})

    def _send_dropped(self, status: int, payload: dict | CanonicalAnswer) -> None:
        # Full Content-Length, half the body, then a closed socket: the client sees a truncated response.
        data = self._encode(status, payload)
        self.wfile.write(data[: max(1, len(data) // 2)])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # Endpoints --------------------------------------------------------------------------------------------

    def list_batches(self, request: Request) -> tuple[int, dict]:
        return 200, _cursor_call(self.server.store.list_batches, request.arg("regency") or None,
                                 request.arg("since"), _limit(request))

    def get_batch(self, request: Request) -> tuple[int, dict]:
        batch = self.server.store.get_batch(request.params["batch_id"])
        if batch is None:
            raise ApiError(404, "not_found", f"unknown batch {request.params['batch_id']}")
        return 200, batch

    def _page(self, fetch, key: str, request: Request, what: str) -> tuple[int, dict]:
        number = int(request.params["page"])
        page = fetch(request.params[key], number)
        if page is None:
            raise ApiError(404, "not_found", f"unknown {what} {request.params[key]} or page {number} out of range")
        if request.duplicate:
            # Another page's content, honestly labelled: the client must notice that page != n.
            count = page.page_count if isinstance(page, CanonicalAnswer) else page["page_count"]
            neighbours = [n for n in (number - 1, number + 1) if 1 <= n <= count] or [number]
            page = fetch(request.params[key], self.server.faults.choice(neighbours))
        return 200, page

    def get_batch_page_checksums(self, request: Request) -> tuple[int, dict]:
        checksums = self.server.store.batch_page_checksums(request.params["batch_id"])
        if checksums is None:
            raise ApiError(404, "not_found", f"unknown batch {request.params['batch_id']}")
        return 200, {"batch_id": request.params["batch_id"], "checksums": checksums}

    def get_batch_page(self, request: Request) -> tuple[int, dict]:
        return self._page(self.server.store.batch_page_canonical, "batch_id", request, "batch")

    def post_submission(self, request: Request) -> tuple[int, dict]:
        store = self.server.store
        store.bump("submission_requests")
        key = request.headers.get("Idempotency-Key", "")
        if not 1 <= len(key) <= 100:
            raise ApiError(400, "idempotency_key_required", "an Idempotency-Key header of 1-100 characters is required")
        body = request.json(code="invalid_submission")
        try:
            page = parse_page(body)
        except UnsupportedProtocol as error:
            raise ApiError(400, "unsupported_protocol", str(error)) from None
        except InvalidSubmission as error:
            raise ApiError(400, "invalid_submission", str(error)) from None
        if store.get_batch(page.header["batch_id"]) is None:
            raise ApiError(400, "invalid_submission", f"unknown batch {page.header['batch_id']}")
        try:
            # The raw body is what a retry repeats byte for byte (as canonical JSON): hash that, not our reading.
            receipt, created = store.receive_page(key, page, checksum(body))
        except IdempotencyConflict as error:
            raise ApiError(409, "idempotency_conflict", str(error)) from None
        except RefConflict as error:
            raise ApiError(400, "invalid_submission", str(error)) from None
        return (201 if created else 200), receipt

    def get_receipt(self, request: Request) -> tuple[int, dict]:
        receipt = self.server.store.receipt(request.params["receipt_id"])
        if receipt is None:
            raise ApiError(404, "not_found", f"unknown receipt {request.params['receipt_id']}")
        return 200, receipt

    def list_outcomes(self, request: Request) -> tuple[int, dict]:
        receipt_id = request.params["receipt_id"]
        try:
            answer = _cursor_call(self.server.store.outcomes, receipt_id, request.arg("since"), _limit(request))
        except NotDecided as error:
            raise ApiError(409, "not_decided", f"receipt {receipt_id} is {error}: the centre has not decided it yet") \
                from None
        if answer is None:
            raise ApiError(404, "not_found", f"unknown receipt {receipt_id}")
        return 200, answer

    def get_family(self, request: Request) -> tuple[int, dict]:
        family = self.server.store.family(request.params["central_id"])
        if family is None:
            raise ApiError(404, "not_found", f"unknown family {request.params['central_id']}")
        return 200, family

    def list_determinations(self, request: Request) -> tuple[int, dict]:
        return 200, _cursor_call(self.server.store.list_determinations, request.arg("regency") or None,
                                 request.arg("since"), _limit(request))

    def list_publications(self, request: Request) -> tuple[int, dict]:
        return 200, _cursor_call(self.server.store.list_publications, request.arg("since"), _limit(request))

    def get_publication_page(self, request: Request) -> tuple[int, dict]:
        return self._page(self.server.store.publication_page, "period", request, "publication")

    def get_stats(self, request: Request) -> tuple[int, dict]:
        stats = self.server.store.stats()
        stats["faults_injected"] = self.server.faults.injected()
        stats["faults"] = self.server.faults.settings.as_json()
        return 200, stats

    def get_faults(self, request: Request) -> tuple[int, dict]:
        return 200, self.server.faults.settings.as_json()

    def put_faults(self, request: Request) -> tuple[int, dict]:
        try:
            return 200, self.server.faults.update(request.json())
        except FaultSettingsError as error:
            raise ApiError(400, "invalid_faults", str(error)) from None

    def publish_batch(self, request: Request) -> tuple[int, dict]:
        server = self.server
        body = request.json()
        regency = body.get("regency")
        if not isinstance(regency, str) or regency not in server.villages:
            raise ApiError(400, "invalid_request", "regency must be a regency code with villages, e.g. 12.09")
        programme = body.get("programme", "PKH")
        households = body.get("households", server.households)
        # Without a seed, a fresh one per batch: a repeat of the start-up batch would be pointless.
        seed = body.get("seed", server.seed + server.store.batch_count())
        if not isinstance(programme, str) or not re.fullmatch(r"[A-Z0-9_]{1,20}", programme):
            raise ApiError(400, "invalid_request", "programme must be a code such as PKH")
        for name, value in (("households", households), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ApiError(400, "invalid_request", f"{name} must be a whole number")
        if not 1 <= households <= MAX_HOUSEHOLDS:
            raise ApiError(400, "invalid_request", f"households must be between 1 and {MAX_HOUSEHOLDS}")
        deadline = body.get("deadline")
        if deadline is not None and parse_date(deadline) is None:
            raise ApiError(400, "invalid_request", "deadline must be a date YYYY-MM-DD")
        cycle = body.get("cycle")
        if cycle is not None and not (isinstance(cycle, str) and CYCLE_RE.match(cycle)):
            raise ApiError(400, "invalid_request", "cycle must be a quarter YYYY-Qn (n from 1 to 4)")
        return 200, server.publish_generated_batch(regency, programme, households, seed,
                                                   deadline=parse_date(deadline), cycle=cycle)

    def accept_submissions(self, request: Request) -> tuple[int, dict]:
        return 200, self.server.store.accept_submissions()

    def publish_desil(self, request: Request) -> tuple[int, dict]:
        period = request.json().get("period")
        if period is None:
            period = publication_periods(dt.date.today(), 1)[0].isoformat()
        valid = isinstance(period, str) and PERIOD_RE.match(period)
        if valid:
            try:
                dt.date.fromisoformat(period)
            except ValueError:
                valid = False
        if not valid:
            raise ApiError(400, "invalid_request", "period must be a date on the 20th: YYYY-MM-20")
        return 200, self.server.store.publish_desil(period, self.server.page_size)
