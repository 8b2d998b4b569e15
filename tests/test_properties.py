"""Property-based tests (hypothesis) for what comes from outside (issue 13, must-have 7): identifiers,
uploaded spreadsheets and the centre's answers. Whatever the input, the code answers with its own documented
refusal (a ValidationError, a row or file error, a CentralError), never another exception, and a refused
input writes nothing."""
import contextlib
import datetime as dt
import json

import pytest
import requests
import tablib
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from central import services as central_services
from central.client import CentralClient, CentralError, RetryPolicy
from central.models import CentralBatch, DesilPublication
from central.protocol import canonical_json, checksum
from distribution.models import Determination
from dtsen_portal.spreadsheets import read_upload
from registry.validators import ascii_int, parse_kk, parse_nik
from verification.models import RoundFamily

from .factories import VILLAGE, UserFactory, post_and_run_jobs, round_with_families

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
TODAY = dt.date(2026, 11, 22)
# Digits of every script, superscripts and fractions: what str.isdigit and int() let through.
ANY_DIGITS = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=16, max_size=16)
ANY_TEXT = st.one_of(st.text(max_size=40), ANY_DIGITS, st.from_regex(r"\A[0-9]{16}\Z"))


# -- identifiers -----------------------------------------------------------------------------------------------

@FEW
@given(ANY_TEXT)
@example("1209121508²²6002")
@example("١٢٠٩٠٨١٧٠٥٨٠٠٠٠١")
def test_nik_and_kk_parsing_accepts_only_16_ascii_digits_and_refuses_anything_else_with_a_validation_error(value):
    for parse in (parse_nik, parse_kk):
        try:
            parse(value, known_kecamatan=lambda code: True, today=TODAY)
        except ValidationError:
            continue
        assert len(value.strip()) == 16 and value.strip().isascii() and value.strip().isdigit()


@FEW
@given(st.one_of(st.text(max_size=30), st.integers().map(str)))
def test_an_id_from_a_form_or_url_is_an_int_a_bigint_column_can_hold_or_none(value):
    number = ascii_int(value)
    assert number is None or (0 <= number < 10**18 and value.isascii() and value.isdigit())


# -- spreadsheets ----------------------------------------------------------------------------------------------

CELL = st.one_of(st.none(), st.text(max_size=30), st.integers(min_value=-10**30, max_value=10**30),
                 st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.dates(), ANY_DIGITS,
                 st.sampled_from(["layak", "tidak layak", "mampu", "=1+1", "@x"]))


@FEW
@given(st.lists(st.lists(CELL, min_size=1, max_size=6), max_size=8), st.sampled_from(["xlsx", "csv"]))
def test_any_sheet_of_any_cells_is_read_or_refused_with_a_message(rows, kind):
    headers = ["nomor_kk", "keputusan", "alasan", "catatan", "x", "y"]
    width = max([len(r) for r in rows] + [2])
    dataset = tablib.Dataset(*[(list(r) + [None] * width)[:width] for r in rows], headers=headers[:width])
    try:
        content = dataset.export(kind)
    except Exception:  # noqa: BLE001 - a value the writer itself cannot store is not an upload
        return
    content = content if isinstance(content, bytes) else content.encode()
    lines, error = read_upload(content, f"f.{kind}", required=["nomor_kk", "keputusan"], expected=headers)
    read = list(lines)
    assert error or all(isinstance(cells, dict) for _line, cells in read)


@FEW
@given(st.binary(max_size=2000), st.sampled_from(["xlsx", "csv"]))
def test_any_bytes_uploaded_as_a_spreadsheet_are_read_or_refused_with_a_message(content, kind):
    lines, error = read_upload(content, f"f.{kind}", required=["nomor_kk"], expected=["nomor_kk"])
    assert isinstance(error, str)
    list(lines)


@pytest.fixture
def import_page():
    round_ = round_with_families(2)
    client = Client(raise_request_exception=True)
    client.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    return round_, client


@pytest.mark.django_db
@settings(FEW, max_examples=20)
@given(rows=st.lists(st.tuples(st.one_of(st.sampled_from(["KNOWN0", "KNOWN1"]), st.text(max_size=20), ANY_DIGITS),
                               st.one_of(st.sampled_from(["layak", "tidak layak", "data dikoreksi"]),
                                         st.text(max_size=12)),
                               st.one_of(st.sampled_from(["", "mampu", "meninggal"]), st.text(max_size=12)),
                               st.text(max_size=50)), min_size=1, max_size=6))
def test_a_decision_import_of_random_rows_applies_every_row_or_none(import_page, rows):
    round_, client = import_page
    RoundFamily.objects.filter(round=round_).update(decision="", reason="", note="")
    kks = sorted(round_.entries.values_list("family__kk_number", flat=True))
    rows = [(kks[int(kk[-1])] if kk in ("KNOWN0", "KNOWN1") else kk, *rest) for kk, *rest in rows]
    before = dict(RoundFamily.objects.filter(round=round_).values_list("pk", "decision"))
    content = tablib.Dataset(*rows, headers=("nomor_kk", "keputusan", "alasan", "catatan")).export("csv").encode()
    checked = client.post(reverse("round-import", args=[round_.pk]), {"file": SimpleUploadedFile("k.csv", content)})
    assert checked.status_code == 200
    post_and_run_jobs(client, reverse("round-import", args=[round_.pk]), {"confirm": "1"})
    after = dict(RoundFamily.objects.filter(round=round_).values_list("pk", "decision"))
    if checked.context["problem"] or checked.context["has_errors"]:
        assert after == before
    else:
        decided = {r[0] for r in rows}
        assert {e.family.kk_number for e in round_.entries.select_related("family") if after[e.pk]} == decided


# -- the centre's answers ----------------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                        max_size=4),
                    max_leaves=20)
ITEM = st.fixed_dictionaries({}, optional={
    "batch_id": JSON | st.text(max_size=70), "regency": JSON, "programme": st.sampled_from(["PKH", "X"]) | JSON,
    "published_at": JSON | st.just("2026-11-23T10:00:00+07:00") | st.just("2026-13-45T99:00:00"),
    "family_count": JSON, "page_count": JSON, "checksum": JSON, "deadline": JSON, "cycle": JSON,
    "determination_id": JSON | st.text(max_size=50), "central_id": JSON, "village_code": JSON,
    "period": JSON | st.just("2026-02-30") | st.just("2026-11-20"), "row_count": JSON})
ANSWER = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={"batches": st.lists(ITEM, max_size=3) | JSON,
                                        "determinations": st.lists(ITEM, max_size=3) | JSON,
                                        "publications": st.lists(ITEM, max_size=3) | JSON,
                                        "has_more": JSON, "next_cursor": JSON | st.text(max_size=120)}))
# A page in canonical JSON (the layout the client reads without decoding the rows), its checksum right or not.
CANONICAL_PAGE = st.tuples(JSON, st.booleans(), st.integers(0, 2), st.binary(max_size=8)).map(
    lambda t: canonical_json({"checksum": checksum([t[0]]) if t[1] else "0" * 64, "families": [t[0]],
                              "page": t[2]}) + t[3])
BODY = st.one_of(ANSWER.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200), CANONICAL_PAGE,
                 st.just(b"[" * 100_000), st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n))


class CannedAnswers(requests.adapters.BaseAdapter):
    """The centre's side of the HTTP boundary: every request gets the same status and body."""

    def __init__(self, status: int, body: bytes):
        super().__init__()
        self.status, self.body = status, body

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code, response._content, response.url, response.request = self.status, self.body, \
            request.url, request
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self):
        pass


def canned_client(status: int, body: bytes) -> CentralClient:
    client = CentralClient(base_url="http://centre.test", token="t", policy=RetryPolicy(attempts=2),
                           sleep=lambda seconds: None)
    client.session.mount("http://", CannedAnswers(status, body))
    return client


@FEW
@given(st.sampled_from([200, 201, 400, 404, 409, 429, 500, 503]), BODY)
def test_any_answer_of_the_centre_gives_a_dict_or_a_central_error(status, body):
    client = canned_client(status, body)
    for call in (lambda: client.batches(), lambda: client.batch_page("B1", 1),
                 lambda: client.batch_page("B1", 1, decoded=False), lambda: client.determinations(),
                 lambda: client.desil_publications(), lambda: client.desil_page("2026-11-20", 1),
                 lambda: client.submission("R1"), lambda: client.family("C1")):
        with contextlib.suppress(CentralError):
            assert isinstance(call(), dict)


@pytest.mark.django_db
@FEW
@given(st.sampled_from([200, 200, 200, 404, 503]), BODY)
def test_any_listing_of_the_centre_is_stored_whole_or_not_at_all_and_raises_only_central_errors(status, body):
    counts = (CentralBatch.objects.count(), Determination.objects.count(), DesilPublication.objects.count())
    client = canned_client(status, body)
    refused = []
    for pull in (lambda: central_services.batches_discover(client=client),
                 lambda: central_services.determinations_pull(client=client),
                 lambda: central_services.desil_pull(client=client)):
        try:
            pull()
        except CentralError:
            refused.append(True)
    try:
        answer = json.loads(body) if body else {}  # the client reads an empty answer as {}
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict) or status != 200:
        assert refused and (CentralBatch.objects.count(), Determination.objects.count(),
                            DesilPublication.objects.count()) == counts
    for batch in CentralBatch.objects.all():
        assert batch.batch_id  # a stored batch came from a whole, valid item
