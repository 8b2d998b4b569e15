"""The mock central DTSEN/Pusdatin service, driven over real HTTP as a separate process.

One mock (regency 12.72, 300 households, seed 3, 50 families a page) serves the module; the restart test runs
its own. Tests are written not to depend on each other's order: they read the state they need first.
"""
import datetime as dt
import hashlib
import re
import time

import pytest
import requests
from django.core.management import CommandError, call_command

from central.mock.server import load_villages
from central.mock.store import Store
from central.protocol import canonical_json, checksum, combined_checksum
from registry.synthetic import generate_households

from .mockproc import NO_FAULTS, PROJECT_ROOT, Mock, start_mock

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    running = start_mock(tmp_path_factory.mktemp("central"), "--regency", "12.72", "--households", "300",
                         "--seed", "3", "--page-size", "50")
    yield running
    running.stop()


@pytest.fixture
def faults(mock):
    """Set faults for one test; they are back to zero afterwards whatever happened."""
    def set_faults(**settings):
        return mock.ok("PUT", "/admin/faults", json=settings)

    yield set_faults
    mock.ok("PUT", "/admin/faults", json=NO_FAULTS)


def first_batch(mock: Mock) -> dict:
    return mock.ok("GET", "/v1/batches?regency=12.72&limit=1")["batches"][0]


def batch_families(mock: Mock, batch: dict) -> list[dict]:
    families = []
    for number in range(1, batch["page_count"] + 1):
        families += mock.ok("GET", f"/v1/batches/{batch['batch_id']}/pages/{number}")["families"]
    return families


def publication_rows(mock: Mock, publication: dict) -> dict[str, dict]:
    rows = {}
    for number in range(1, publication["page_count"] + 1):
        page = mock.ok("GET", f"/v1/desil/publications/{publication['period']}/pages/{number}")
        assert page["checksum"] == checksum(page["rows"])
        rows.update({row["central_id"]: row for row in page["rows"]})
    return rows


def submission(batch: dict, results: list[dict], proposals: list | None = None, *,
               village: str = "12.72.01.1001", round_ref: str = "round-1") -> dict:
    """A v1 body (no ``protocol``): the mock still takes it, normalised into v2 items.

    Tests that decide give their own ``round_ref``: a later submission of a village's round supersedes an earlier.
    """
    return {"batch_id": batch["batch_id"], "round_ref": round_ref, "village_code": village, "programme": "PKH",
            "results": results, "proposals": proposals or []}


def result(central_id: str, decision: str, corrections: dict | None = None) -> dict:
    return {"central_id": central_id, "decision": decision, "reason": "checked at home",
            "corrections": corrections or {}}


# Auth and health --------------------------------------------------------------------------------------------

def test_request_without_or_with_wrong_token_answers_401_with_error_shape(mock):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dDp0"}):
        response = requests.get(mock.base_url + "/v1/batches", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
        assert set(response.json()) == {"code", "message"}
    assert requests.get(mock.base_url + "/health", timeout=10).json() == {"status": "ok"}


def test_unknown_endpoint_batch_and_page_answer_404_with_error_shape(mock):
    batch = first_batch(mock)
    for path in ("/v1/nothing", "/v1/batches/12.72-PKH-9999", "/v1/batches/12.72-PKH-9999/pages/1",
                 f"/v1/batches/{batch['batch_id']}/pages/0",
                 f"/v1/batches/{batch['batch_id']}/pages/{batch['page_count'] + 1}"):
        response = mock.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


# Batches ----------------------------------------------------------------------------------------------------

def test_batch_list_is_cursor_paged_and_since_last_cursor_returns_nothing_new(mock):
    mock.ok("POST", "/admin/publish-batch", json={"regency": "12.09", "households": 12, "seed": 5})
    seen, cursor, has_more = [], None, True
    while has_more:
        answer = mock.ok("GET", "/v1/batches", params={"limit": 1, **({"since": cursor} if cursor else {})})
        assert len(answer["batches"]) <= 1
        seen += [batch["batch_id"] for batch in answer["batches"]]
        cursor, has_more = answer["next_cursor"], answer["has_more"]
    assert len(seen) >= 2 and len(seen) == len(set(seen))
    assert "12.72-PKH-0001" in seen and "12.09-PKH-0001" in seen
    assert mock.ok("GET", "/v1/batches", params={"since": cursor}) == {
        "batches": [], "next_cursor": cursor, "has_more": False}
    only = mock.ok("GET", "/v1/batches", params={"regency": "12.09"})["batches"]
    assert only and {batch["regency"] for batch in only} == {"12.09"}
    assert mock.get("/v1/batches?since=not-a-cursor").json()["code"] == "invalid_cursor"


def test_every_page_checksum_matches_its_families_and_batch_checksum_combines_them(mock):
    batch = first_batch(mock)
    assert mock.ok("GET", f"/v1/batches/{batch['batch_id']}") == batch
    page_checksums = []
    for number in range(1, batch["page_count"] + 1):
        page = mock.ok("GET", f"/v1/batches/{batch['batch_id']}/pages/{number}")
        assert (page["batch_id"], page["page"], page["page_count"]) == (batch["batch_id"], number, 6)
        assert page["checksum"] == checksum(page["families"])
        page_checksums.append(page["checksum"])
    assert batch["checksum"] == combined_checksum(page_checksums)


def test_a_batch_page_is_sent_as_canonical_json_so_its_rows_hash_to_the_checksum_as_they_arrive(mock):
    batch = first_batch(mock)
    response = mock.get(f"/v1/batches/{batch['batch_id']}/pages/2")
    page = response.json()
    assert response.content == canonical_json(page)
    rows = response.content[response.content.index(b'"families":') + len(b'"families":'):
                            response.content.rindex(b',"page":')]
    assert rows == canonical_json(page["families"]) and hashlib.sha256(rows).hexdigest() == page["checksum"]
    assert (page["page"], page["page_count"], len(page["families"])) == (2, 6, 50)


def test_families_add_up_to_family_count_with_unique_ids_and_valid_looking_niks(mock):
    batch = first_batch(mock)
    families = batch_families(mock, batch)
    assert batch["family_count"] == len(families) == 300
    assert batch["member_count"] == sum(len(f["members"]) for f in families)
    assert len({f["central_id"] for f in families}) == 300
    niks = [m["nik"] for f in families for m in f["members"]]
    assert len(set(niks)) == len(niks)
    assert all(re.fullmatch(r"\d{16}", nik) and nik.startswith("1272") for nik in niks)
    assert all(f["village_code"].startswith("12.72.") and f["village_code"].count(".") == 3 for f in families)
    assert {"attrs", "members", "score", "desil", "desil_history", "kk_number"} <= set(families[0])


def test_publish_batch_adds_a_batch_visible_after_the_old_cursor_with_ids_unique_across_the_mock(mock):
    cursor = mock.ok("GET", "/v1/batches", params={"limit": 500})["next_cursor"]
    # The same seed as the start-up batch: the generator would repeat its central ids and NIKs.
    batch = mock.ok("POST", "/admin/publish-batch", json={"regency": "12.72", "households": 40, "seed": 3})
    assert re.fullmatch(r"12\.72-PKH-\d{4}", batch["batch_id"]) and batch["batch_id"] != "12.72-PKH-0001"
    answer = mock.ok("GET", "/v1/batches", params={"since": cursor})
    assert [b["batch_id"] for b in answer["batches"]] == [batch["batch_id"]]
    new = batch_families(mock, batch)
    old = batch_families(mock, first_batch(mock))
    assert not {f["central_id"] for f in new} & {f["central_id"] for f in old}
    assert not {m["nik"] for f in new for m in f["members"]} & {m["nik"] for f in old for m in f["members"]}
    assert not {f["kk_number"] for f in new} & {f["kk_number"] for f in old}


# Submissions ------------------------------------------------------------------------------------------------

def test_same_idempotency_key_twice_returns_same_receipt_and_counts_once(mock):
    batch = first_batch(mock)
    central_id = batch_families(mock, batch)[0]["central_id"]
    body = submission(batch, [result(central_id, "eligible")])
    before = mock.ok("GET", "/stats")
    first = mock.submit("idem-same-1", body)
    second = mock.submit("idem-same-1", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    receipt = first.json()
    assert re.fullmatch(r"R-\d{6}", receipt["receipt_id"])
    assert (receipt["status"], receipt["result_count"], receipt["proposal_count"]) == ("received", 1, 0)
    assert mock.ok("GET", f"/v1/submissions/{receipt['receipt_id']}")["receipt_id"] == receipt["receipt_id"]
    after = mock.ok("GET", "/stats")
    assert after["submissions_received"] == before["submissions_received"] + 1
    assert after["submission_requests"] == before["submission_requests"] + 2


def test_same_idempotency_key_with_a_different_body_answers_409(mock):
    batch = first_batch(mock)
    families = batch_families(mock, batch)
    assert mock.submit("idem-conflict", submission(batch, [result(families[0]["central_id"], "eligible")])) \
        .status_code == 201
    response = mock.submit("idem-conflict", submission(batch, [result(families[1]["central_id"], "eligible")]))
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"


def test_submission_without_key_or_with_a_bad_body_answers_400(mock):
    batch = first_batch(mock)
    body = submission(batch, [])
    missing = mock.submit(None, body)
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    too_long = mock.submit("k" * 101, body)
    assert too_long.status_code == 400 and too_long.json()["code"] == "idempotency_key_required"
    for bad in ({**body, "batch_id": "12.72-PKH-9999"}, {k: v for k, v in body.items() if k != "results"},
                {**body, "results": [{"central_id": "x", "decision": "maybe"}]}):
        response = mock.submit("idem-bad", bad)
        assert response.status_code == 400 and response.json()["code"] == "invalid_submission"
    assert mock.get("/v1/submissions/R-999999").status_code == 404


def test_accept_submissions_creates_determinations_only_for_eligible_or_corrected_with_desil_at_most_4(mock):
    publication = mock.ok("POST", "/admin/publish-desil", json={"period": "2031-01-20"})
    desil = {cid: row["desil"] for cid, row in publication_rows(mock, publication).items()}
    batch = first_batch(mock)
    # Skip the first families: other tests' submissions name them, and a family is determined once a month.
    families = batch_families(mock, batch)[10:]
    poor = [f for f in families if desil[f["central_id"]] <= 4]
    rich = [f for f in families if desil[f["central_id"]] >= 5]
    expected = {poor[0]["central_id"], poor[1]["central_id"]}
    chosen = [(poor[0], "eligible", {}), (poor[1], "corrected", {"toilet": "none"}), (poor[2], "not_eligible", {}),
              (rich[0], "eligible", {}), (rich[1], "corrected", {})]
    # A submission is one village's: the families' results go up per village.
    villages = {}
    for family, decision, corrections in chosen:
        villages.setdefault(family["village_code"], []).append(result(family["central_id"], decision, corrections))
    cursor = mock.ok("GET", "/v1/determinations", params={"limit": 500})["next_cursor"]
    receipts = {mock.submit(f"idem-accept-{village}", submission(
        batch, results, village=village, round_ref="round-accept")).json()["receipt_id"]
        for village, results in villages.items()}
    accepted = mock.ok("POST", "/admin/accept-submissions")
    assert accepted["accepted"] >= len(receipts) and accepted["determinations"] >= len(expected)
    for receipt_id in receipts:
        decided = mock.ok("GET", f"/v1/submissions/{receipt_id}")
        assert decided["status"] == "accepted" and decided["decided_at"]
    new = mock.ok("GET", "/v1/determinations", params={"since": cursor, "regency": "12.72", "limit": 500})
    mine = [d for d in new["determinations"] if d["receipt_id"] in receipts]
    assert {d["central_id"] for d in mine} == expected
    assert all(d["status"] == "kpm" and d["programme"] == "PKH" and d["regency"] == "12.72"
               and re.fullmatch(r"D-\d{6}", d["determination_id"]) and re.fullmatch(r"\d{4}-\d{2}", d["period"])
               for d in mine)
    assert mock.ok("GET", "/v1/determinations", params={"since": new["next_cursor"]})["determinations"] == []


def test_a_result_for_an_unknown_family_is_rejected_alone_and_the_rest_of_the_submission_stands(mock):
    batch = first_batch(mock)
    known = batch_families(mock, batch)[5]
    body = submission(batch, [result(known["central_id"], "not_eligible"), result("DT0000000000000000", "eligible")],
                      village=known["village_code"], round_ref="round-unknown")
    receipt = mock.submit("idem-unknown", body).json()
    mock.ok("POST", "/admin/accept-submissions")
    decided = mock.ok("GET", f"/v1/submissions/{receipt['receipt_id']}")
    assert decided["status"] == "partial" and decided["outcome_counts"] == {"accepted": 1, "rejected": 1}
    outcomes = mock.ok("GET", f"/v1/submissions/{receipt['receipt_id']}/outcomes")["outcomes"]
    assert [(o["ref"], o["outcome"], o["reason"]) for o in outcomes] == [
        ("r1", "accepted", ""), ("r2", "rejected", "unknown central_id DT0000000000000000")]


def test_correction_improving_a_poor_familys_house_raises_its_desil_in_the_next_publication(mock):
    before = mock.ok("POST", "/admin/publish-desil", json={"period": "2031-02-20"})
    rows = publication_rows(mock, before)
    assert len(rows) == before["row_count"]
    batch = first_batch(mock)
    target = next(f for f in batch_families(mock, batch)[20:] if rows[f["central_id"]]["desil"] == 1)
    village = target["village_code"]
    better_house = {"floor_type": "ceramic", "wall_type": "brick", "roof_type": "concrete", "toilet": "own",
                    "water_source": "piped", "lighting": "pln_metered", "cooking_fuel": "lpg_large",
                    "floor_area_m2": 240, "has_car": True, "has_air_conditioner": True, "has_refrigerator": True}
    head = {"nik": "1272011503900099", "name": "Budi Siregar", "sex": "L", "birth_place": "Pematangsiantar",
            "birth_date": "1990-03-15", "relationship": "head", "education": "sma", "occupation": "Wiraswasta",
            "disability": "none", "life_status": "present"}
    proposal = {"kk_number": "1272010101200099", "dusun": "Dusun I", "rt": "001", "rw": "001",
                "address": "Jl. Baru No. 1", "attrs": dict(better_house), "members": [head]}
    assert mock.submit("idem-better-house", submission(
        batch, [result(target["central_id"], "corrected", better_house)], [proposal], village=village,
                   round_ref="round-better-house")
                       ).status_code == 201
    mock.ok("POST", "/admin/accept-submissions")
    after = mock.ok("POST", "/admin/publish-desil", json={"period": "2031-03-20"})
    assert after["row_count"] == before["row_count"] + 1  # the accepted proposal is ranked too
    new_rows = publication_rows(mock, after)
    assert new_rows[target["central_id"]]["desil"] >= 8
    assert new_rows[target["central_id"]]["score"] > rows[target["central_id"]]["score"]
    assert any(cid.startswith("P") for cid in new_rows)
    page_checksums = [mock.ok("GET", f"/v1/desil/publications/2031-03-20/pages/{n}")["checksum"]
                      for n in range(1, after["page_count"] + 1)]
    assert after["checksum"] == combined_checksum(page_checksums)
    listed = mock.ok("GET", "/v1/desil/publications", params={"limit": 500})["publications"]
    assert {"2031-02-20", "2031-03-20"} <= {p["period"] for p in listed}


# Faults -----------------------------------------------------------------------------------------------------

def test_fail_rate_1_makes_every_v1_request_fail_while_health_and_admin_still_answer(mock, faults):
    batch = first_batch(mock)
    faults(fail_rate=1.0)
    for path in ("/v1/batches", f"/v1/batches/{batch['batch_id']}", f"/v1/batches/{batch['batch_id']}/pages/1",
                 "/v1/determinations", "/v1/desil/publications"):
        response = mock.get(path)
        assert response.status_code in (500, 503), path
        assert response.json()["code"] == "injected_failure"
    assert requests.get(mock.base_url + "/health", timeout=10).status_code == 200
    stats = mock.ok("GET", "/stats")
    assert stats["faults"]["fail_rate"] == 1.0 and stats["faults_injected"]["fail"] >= 5


def test_injected_failures_on_submissions_sometimes_lose_only_the_acknowledgement(mock, faults):
    body = submission(first_batch(mock), [])
    faults(fail_rate=1.0)
    assert all(mock.submit(f"idem-lost-{i}", body).status_code in (500, 503) for i in range(20))
    faults(**NO_FAULTS)
    retried = [mock.submit(f"idem-lost-{i}", body).status_code for i in range(20)]
    # 200: stored before the failure (lost acknowledgement); 201: failed before it was stored.
    assert set(retried) == {200, 201}


def test_drop_rate_1_breaks_the_response_body(mock, faults):
    faults(drop_rate=1.0)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        mock.get("/v1/batches")
    assert requests.get(mock.base_url + "/health", timeout=10).status_code == 200


def test_duplicate_rate_1_answers_another_page_labelled_with_its_own_number(mock, faults):
    batch = first_batch(mock)
    faults(duplicate_rate=1.0)
    for asked, allowed in ((1, {2}), (3, {2, 4}), (6, {5})):
        page = mock.ok("GET", f"/v1/batches/{batch['batch_id']}/pages/{asked}")
        assert page["page"] in allowed
        assert page["checksum"] == checksum(page["families"])
    # Only page requests are duplicated.
    assert mock.ok("GET", f"/v1/batches/{batch['batch_id']}") == batch


def test_timeout_rate_1_with_hang_makes_a_short_client_timeout_fire(mock, faults):
    faults(timeout_rate=1.0, hang_seconds=2)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        mock.get("/v1/batches", timeout=0.5)
    assert time.monotonic() - started < 2
    stats = mock.ok("GET", "/stats")
    assert stats["faults_injected"]["timeout"] >= 1


def test_invalid_fault_settings_answer_400_and_change_nothing(mock, faults):
    current = mock.ok("GET", "/stats")["faults"]
    for bad in ({"fail_rate": 2}, {"nonsense": 1}, {"latency_ms": "x"}):
        response = requests.put(mock.base_url + "/admin/faults", json=bad, headers=mock.headers, timeout=10)
        assert response.status_code == 400 and response.json()["code"] == "invalid_faults"
    assert mock.ok("GET", "/stats")["faults"] == current


# Process ----------------------------------------------------------------------------------------------------

def test_restart_on_the_same_data_dir_keeps_batches_and_stats(tmp_path):
    args = ("--regency", "12.72", "--households", "30", "--seed", "8", "--page-size", "10")
    first = start_mock(tmp_path, *args)
    try:
        batches = first.ok("GET", "/v1/batches")["batches"]
        batch = batches[0]
        central_id = batch_families(first, batch)[0]["central_id"]
        assert first.submit("restart-1", submission(batch, [result(central_id, "eligible")])).status_code == 201
        first.ok("POST", "/admin/publish-desil", json={"period": "2031-04-20"})
        stats = first.ok("GET", "/stats")
    finally:
        first.stop()
    assert first.process.returncode == 0
    second = start_mock(tmp_path, *args)
    try:
        assert second.ok("GET", "/v1/batches")["batches"] == batches  # no second start-up batch
        again = second.ok("GET", "/stats")
        for key in ("families_published", "batches_published", "submissions_received", "submission_requests",
                    "desil_publications"):
            assert again[key] == stats[key], key
        assert again["requests_total"] > stats["requests_total"]
        assert second.submit("restart-1", submission(batch, [result(central_id, "eligible")])).status_code == 200
    finally:
        second.stop()


def test_the_same_seed_gives_the_same_batch_checksum_in_a_fresh_data_dir(tmp_path):
    villages = load_villages(PROJECT_ROOT / "data" / "wilayah.csv")["12.72"]
    batches = []
    for name in ("a", "b"):
        families = generate_households(villages, 60, 3, as_of=dt.date(2025, 6, 1))
        batches.append(Store(tmp_path / name / "central.sqlite3").publish_batch("12.72", "PKH", families, 25))
    assert batches[0]["checksum"] == batches[1]["checksum"]
    assert batches[0]["page_count"] == 3


def test_command_refuses_an_unknown_regency_before_listening(tmp_path):
    with pytest.raises(CommandError, match="99.99"):
        call_command("run_mock_central", "--port", "0", "--data-dir", str(tmp_path), "--regency", "99.99")


def test_malformed_requests_and_unknown_methods_answer_the_json_error_shape(mock):
    response = requests.request("OPTIONS", mock.base_url + "/v1/batches", headers=mock.headers, timeout=10)
    assert response.status_code == 501 and response.json()["code"] == "not_implemented"
    response = requests.delete(mock.base_url + "/v1/batches", headers=mock.headers, timeout=10)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_openapi_document_describes_every_endpoint_and_the_bearer_scheme():
    yaml = pytest.importorskip("yaml")
    document = yaml.safe_load((PROJECT_ROOT / "central" / "mock" / "openapi.yaml").read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    expected = {
        "/health": {"get"}, "/stats": {"get"}, "/v1/batches": {"get"}, "/v1/batches/{batch_id}": {"get"},
        "/v1/batches/{batch_id}/pages/{n}": {"get"}, "/v1/submissions": {"post"},
        "/v1/submissions/{receipt_id}": {"get"}, "/v1/determinations": {"get"},
        "/v1/desil/publications": {"get"}, "/v1/desil/publications/{period}/pages/{n}": {"get"},
        "/admin/faults": {"get", "put"}, "/admin/publish-batch": {"post"},
        "/admin/accept-submissions": {"post"}, "/admin/publish-desil": {"post"},
        "/v1/submissions/{receipt_id}/outcomes": {"get"}, "/v1/families/{central_id}": {"get"},
    }
    assert document["info"]["version"] == "2.0.0"
    assert "changes from 1.x" in document["info"]["description"].lower()
    for path, methods in expected.items():
        assert methods <= set(document["paths"][path]), path
    assert document["paths"]["/health"]["get"]["security"] == []


def test_a_streamed_publication_and_its_republication_have_pages_matching_their_checksums(tmp_path):
    villages = [("12.72.01.1001", "Desa Satu"), ("12.72.01.1002", "Desa Dua")]
    documents = [f.as_json() for f in generate_households(villages, 23, 5, as_of=dt.date(2026, 11, 23))]
    store = Store(tmp_path / "central.sqlite3")
    batch = store.publish_documents("12.72", "PKH", iter(documents), 10, chunk=7)
    assert (batch["family_count"], batch["page_count"]) == (23, 3)
    pages = [store.batch_page(batch["batch_id"], n) for n in (1, 2, 3)]
    assert [p["families"] for p in pages] == [documents[:10], documents[10:20], documents[20:]]
    assert all(checksum(p["families"]) == p["checksum"] for p in pages)
    assert combined_checksum([p["checksum"] for p in pages]) == batch["checksum"]

    def rename(index, doc):
        doc["address"] = "Jl. Baru" if index == 4 else doc["address"]
        return doc

    again = store.republish(batch["batch_id"], 10, change=rename)
    assert again["batch_id"] != batch["batch_id"] and again["page_count"] == 3
    first = store.batch_page(again["batch_id"], 1)
    assert first["families"][4]["address"] == "Jl. Baru" and checksum(first["families"]) == first["checksum"]
    assert store.batch_page(again["batch_id"], 2)["checksum"] == pages[1]["checksum"]
