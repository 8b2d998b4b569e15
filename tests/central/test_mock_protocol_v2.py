"""Protocol v2 of the mock centre (PROTOCOL-v2.md), over real HTTP against the mock as a separate process.

One mock (regency 12.72, 600 households) serves the module. Tests never share a family: ``pool`` hands each
test families nobody else has named, all from one village, so determinations (one per family and month) and
corrections cannot leak between tests. Each test reads the state it relies on first.
"""
import datetime as dt
import itertools
import json
import re
import sqlite3
from zoneinfo import ZoneInfo

import pytest
import requests
from django.conf import settings

from central.mock.store import Store

from .mockproc import NO_FAULTS, Mock, start_mock

pytestmark = pytest.mark.integration

TODAY = dt.date.today()
_serials = itertools.count(1)


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    running = start_mock(tmp_path_factory.mktemp("central-v2"), "--regency", "12.72", "--households", "600",
                         "--seed", "4", "--page-size", "100")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def batch(mock):
    return mock.ok("GET", "/v1/batches", params={"regency": "12.72", "limit": 1})["batches"][0]


class Pool:
    """The batch's families, each handed out once per module."""

    def __init__(self, families: list[dict]):
        self.families, self.used = families, set()

    def unused(self, where=lambda family: True) -> dict[str, list[dict]]:
        villages = {}
        for family in self.families:
            if family["central_id"] not in self.used and where(family):
                villages.setdefault(family["village_code"], []).append(family)
        return villages

    def village_where(self, test) -> str:
        """A village whose unused families (as a list) pass ``test``."""
        return next(code for code, families in sorted(self.unused().items()) if test(families))

    def take(self, count: int, *, where=lambda family: True, village: str | None = None) -> list[dict]:
        villages = self.unused(where)
        if village is None:
            village = max(villages, key=lambda code: len(villages[code]))
        chosen = villages.get(village, [])[:count]
        assert len(chosen) == count, f"not enough unused families in {village}"
        self.used.update(family["central_id"] for family in chosen)
        return chosen


@pytest.fixture(scope="module")
def pool(mock, batch):
    families = []
    for number in range(1, batch["page_count"] + 1):
        families += mock.ok("GET", f"/v1/batches/{batch['batch_id']}/pages/{number}")["families"]
    return Pool(families)


@pytest.fixture
def faults(mock):
    def set_faults(**settings):
        return mock.ok("PUT", "/admin/faults", json=settings)

    yield set_faults
    mock.ok("PUT", "/admin/faults", json=NO_FAULTS)


# Building bodies ---------------------------------------------------------------------------------------------

def body(batch: dict, village: str, round_ref: str, *, page: int = 1, page_count: int = 1, **lists) -> dict:
    return {"protocol": 2, "batch_id": batch["batch_id"], "round_ref": round_ref, "village_code": village,
            "programme": "PKH", "page": page, "page_count": page_count, **lists}


def nik_for(village: str, *, born: dt.date = dt.date(1990, 3, 15), woman: bool = False) -> str:
    # Serials below 1000 never meet the mock's own (it numbers from 5001).
    day = born.day + (40 if woman else 0)
    return f"{village.replace('.', '')[:6]}{day:02d}{born:%m%y}{next(_serials):04d}"


def kk_for(village: str) -> str:
    return f"{village.replace('.', '')[:6]}010124{next(_serials):04d}"


def person(nik: str, relationship: str = "child", **changes) -> dict:
    return {"nik": nik, "name": "Putri Siregar", "sex": "P", "birth_place": "Pematangsiantar",
            "birth_date": "1990-03-15", "relationship": relationship, "education": "sd", "occupation": "Pelajar",
            "disability": "none", "life_status": "present", **changes}


def result(family: dict, ref: str, decision: str = "eligible", reason: str = "") -> dict:
    return {"ref": ref, "central_id": family["central_id"], "decision": decision, "reason": reason, "note": ""}


def head_of(family: dict) -> dict:
    return next(member for member in family["members"] if member["relationship"] == "head")


POOR_HOUSE = {"floor_type": "earth", "wall_type": "bamboo", "roof_type": "thatch", "water_source": "surface",
              "lighting": "none", "cooking_fuel": "firewood", "toilet": "none", "house_ownership": "rent_free",
              "floor_area_m2": 14, **dict.fromkeys((
                  "has_lpg_large", "has_refrigerator", "has_air_conditioner", "has_water_heater", "has_flat_tv",
                  "has_gold", "has_computer", "has_motorcycle", "has_car", "has_boat", "has_land", "has_livestock"),
                  False)}
RICH_HOUSE = {"floor_type": "marble", "wall_type": "brick", "roof_type": "concrete", "water_source": "bottled",
              "lighting": "pln_metered", "cooking_fuel": "electric", "toilet": "own", "house_ownership": "own",
              "floor_area_m2": 300, "has_car": True, "has_air_conditioner": True, "has_refrigerator": True,
              "has_computer": True, "has_water_heater": True}


def proposal(ref: str, village: str, *, kk: str | None = None, members: list | None = None, **extra) -> dict:
    return {"ref": ref, "kk_number": kk or kk_for(village), "dusun": "Dusun II", "rt": "002", "rw": "003",
            "address": "Jl. Kenanga No. 4", "latitude": "2.9595", "longitude": 99.0687, "attrs": dict(POOR_HOUSE),
            "members": members if members is not None else [person(nik_for(village), "head", sex="L"),
                                                            person(nik_for(village, woman=True), "spouse")],
            **extra}


# Talking to the mock -------------------------------------------------------------------------------------------

def push(mock: Mock, key: str, payload: dict, expect: int = 201) -> dict:
    response = mock.submit(key, payload)
    assert response.status_code == expect, response.text
    return response.json()


def decide(mock: Mock) -> dict:
    return mock.ok("POST", "/admin/accept-submissions")


def outcomes(mock: Mock, receipt_id: str) -> dict[str, dict]:
    found, cursor = {}, None
    while True:
        page = mock.ok("GET", f"/v1/submissions/{receipt_id}/outcomes",
                       params={"limit": 500, **({"since": cursor} if cursor else {})})
        found.update({outcome["ref"]: outcome for outcome in page["outcomes"]})
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return found


def family(mock: Mock, central_id: str) -> dict:
    return mock.ok("GET", f"/v1/families/{central_id}")


def publication(mock: Mock, period: str) -> dict[str, dict]:
    published = mock.ok("POST", "/admin/publish-desil", json={"period": period})
    rows = {}
    for number in range(1, published["page_count"] + 1):
        rows.update({row["central_id"]: row for row in mock.ok(
            "GET", f"/v1/desil/publications/{period}/pages/{number}")["rows"]})
    assert len(rows) == published["row_count"]
    return rows


def new_determinations(mock: Mock, cursor: str) -> list[dict]:
    return mock.ok("GET", "/v1/determinations", params={"since": cursor, "limit": 500})["determinations"]


def determinations_cursor(mock: Mock) -> str:
    cursor = "0"
    while True:
        page = mock.ok("GET", "/v1/determinations", params={"since": cursor, "limit": 500})
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor


def stats(mock: Mock) -> dict:
    return mock.ok("GET", "/stats")


# Batches -------------------------------------------------------------------------------------------------------

def test_batches_carry_a_deadline_and_a_cycle_with_defaults_and_invalid_values_answer_400(mock, batch):
    quarter = (TODAY.month - 1) // 3 + 1
    assert batch["cycle"] == f"{TODAY.year}-Q{quarter}"
    # The centre counts the 30 days from its own (Jakarta) date, which is a day past UTC's from 17:00 UTC.
    published = dt.datetime.fromisoformat(batch["published_at"]).astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    assert dt.date.fromisoformat(batch["deadline"]) - published == dt.timedelta(days=30)
    chosen = mock.ok("POST", "/admin/publish-batch", json={"regency": "12.09", "households": 3, "seed": 1,
                                                           "deadline": "2031-02-28", "cycle": "2031-Q1"})
    assert (chosen["deadline"], chosen["cycle"]) == ("2031-02-28", "2031-Q1")
    assert mock.ok("GET", f"/v1/batches/{chosen['batch_id']}") == chosen
    for bad in ({"deadline": "2031-02-30"}, {"deadline": "28-02-2031"}, {"cycle": "2031-Q5"}, {"cycle": 2031}):
        answer = requests.post(mock.base_url + "/admin/publish-batch", headers=mock.headers,
                               json={"regency": "12.09", "households": 3, **bad}, timeout=10)
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_request", bad


# Applying items --------------------------------------------------------------------------------------------------

def test_a_correction_changes_the_familys_attrs_and_location_and_its_next_publication_score(mock, batch, pool):
    before = publication(mock, "2032-01-20")
    target = pool.take(1, where=lambda f: before[f["central_id"]]["desil"] <= 3)[0]
    cid, village = target["central_id"], target["village_code"]
    corrections = [{"ref": f"c.{name}", "central_id": cid, "field": name, "before": target["attrs"].get(name),
                    "after": value} for name, value in RICH_HOUSE.items()]
    corrections += [{"ref": "c.address", "central_id": cid, "field": "address", "before": target["address"],
                     "after": "Jl. Sudirman No. 99"},
                    {"ref": "c.lat", "central_id": cid, "field": "latitude", "before": None, "after": "2.9601"}]
    receipt = push(mock, "v2-correction", body(batch, village, "round-correction", results=[
        result(target, "r1", "corrected")], corrections=corrections))
    decide(mock)
    assert {o["outcome"] for o in outcomes(mock, receipt["receipt_id"]).values()} == {"accepted"}
    seen = family(mock, cid)
    assert {name: seen["attrs"][name] for name in RICH_HOUSE} == RICH_HOUSE
    assert (seen["address"], seen["latitude"], seen["dusun"]) == ("Jl. Sudirman No. 99", 2.9601, target["dusun"])
    assert seen["final_results"] == [{"round_ref": "round-correction", "receipt_id": receipt["receipt_id"],
                                      "decision": "corrected", "reason": ""}]
    after = publication(mock, "2032-02-20")
    assert after[cid]["score"] > before[cid]["score"] + 10
    assert after[cid]["desil"] >= 9 and after[cid]["village_code"] == village
    assert family(mock, cid)["desil"] == after[cid]["desil"]


def test_member_changes_add_a_member_mark_deaths_and_moves_and_correct_a_name(mock, batch, pool):
    target = pool.take(1, where=lambda f: len(f["members"]) >= 3 and all(
        m["life_status"] == "present" for m in f["members"]))[0]
    cid, village = target["central_id"], target["village_code"]
    head, second, third = target["members"][0], target["members"][1], target["members"][2]
    assert head["relationship"] == "head"
    baby = person(nik_for(village, born=dt.date(2025, 1, 2)), birth_date="2025-01-02", education="none")
    receipt = push(mock, "v2-members", body(batch, village, "round-members", member_changes=[
        {"ref": "m1", "central_id": cid, "change": "added", "nik": baby["nik"], "member": baby,
         "date": "2025-01-10"},
        {"ref": "m2", "central_id": cid, "change": "deceased", "nik": head["nik"], "date": "2025-02-01"},
        {"ref": "m3", "central_id": cid, "change": "moved", "nik": second["nik"], "date": "2025-03-01"},
        {"ref": "m4", "central_id": cid, "change": "corrected", "nik": third["nik"],
         "fields": {"name": {"before": third["name"], "after": "Nama Benar"}}}]))
    decide(mock)
    assert {ref: o["outcome"] for ref, o in outcomes(mock, receipt["receipt_id"]).items()} == {
        "m1": "accepted", "m2": "accepted", "m3": "accepted", "m4": "accepted"}
    seen = family(mock, cid)
    members = {m["nik"]: m for m in seen["members"]}
    assert members[baby["nik"]] == {**baby, "life_event_date": None}
    assert (members[head["nik"]]["life_status"], members[head["nik"]]["life_event_date"]) == ("deceased",
                                                                                             "2025-02-01")
    assert (members[second["nik"]]["life_status"], members[second["nik"]]["life_event_date"]) == ("moved",
                                                                                                 "2025-03-01")
    assert members[third["nik"]]["name"] == "Nama Benar"
    assert len(seen["members"]) == len(target["members"]) + 1
    assert seen["living_members"] == len(target["members"]) + 1 - 2


def test_a_dead_head_or_a_stop_recommendation_prevents_the_determination_of_an_eligible_family(mock, batch, pool):
    rows = publication(mock, "2032-03-20")

    def poor(family):
        return rows[family["central_id"]]["desil"] <= 4

    village = pool.village_where(lambda families: sum(map(poor, families)) >= 3 and not all(map(poor, families)))
    control, dead_head, stopped = pool.take(3, where=poor, village=village)
    rich = pool.take(1, where=lambda f: not poor(f), village=village)[0]
    families = [control, dead_head, stopped, rich]
    cursor = determinations_cursor(mock)
    receipt = push(mock, "v2-determine", body(
        batch, village, "round-determine", results=[result(f, f"r{n}") for n, f in enumerate(families)],
        member_changes=[{"ref": "dead", "central_id": dead_head["central_id"], "change": "deceased",
                         "nik": head_of(dead_head)["nik"], "date": "2025-05-05"}],
        recommendations=[{"ref": "stop", "central_id": stopped["central_id"], "recommendation": "stop",
                          "visited_on": "2025-05-06", "findings": "Rumah permanen, mobil"},
                         {"ref": "go", "central_id": control["central_id"], "recommendation": "continue",
                          "visited_on": "2025-05-06"}]))
    answer = decide(mock)
    assert answer["determinations"] == 1 and answer["decided"] >= 1
    determined = new_determinations(mock, cursor)
    assert [(d["central_id"], d["status"], d["receipt_id"]) for d in determined] == [
        (control["central_id"], "kpm", receipt["receipt_id"])]
    assert family(mock, stopped["central_id"])["recommendation"] == {
        "recommendation": "stop", "visited_on": "2025-05-06", "receipt_id": receipt["receipt_id"]}


def test_an_accepted_usulan_gets_a_p_id_is_ranked_next_publication_and_a_resubmission_keeps_its_id(
        mock, batch, pool):
    village = pool.take(1)[0]["village_code"]
    usulan = proposal("u1", village)
    receipt = push(mock, "v2-usulan", body(batch, village, "round-usulan", proposals=[usulan], reports=[
        {"ref": "rep1", "kind": "usulan", "proposal_ref": "u1", "reason": "Keluarga miskin belum terdata",
         "resolution": "Diusulkan", "received_on": "2025-04-01"}], recommendations=[
        {"ref": "rec1", "proposal_ref": "u1", "recommendation": "continue", "visited_on": "2025-04-02"}]))
    decide(mock)
    decided = outcomes(mock, receipt["receipt_id"])
    central_id = decided["u1"]["central_id"]
    assert re.fullmatch(rf"P{village.replace('.', '')}\d{{6}}", central_id)
    assert decided["rep1"] == {"ref": "rep1", "kind": "report", "outcome": "accepted", "reason": ""}
    created = family(mock, central_id)
    assert (created["kk_number"], created["village_code"], created["desil"]) == (usulan["kk_number"], village, 0)
    assert created["origin"] == f"proposal:{receipt['receipt_id']}"
    assert [m["nik"] for m in created["members"]] == [m["nik"] for m in usulan["members"]]
    assert (created["latitude"], created["longitude"], created["rt"]) == (2.9595, 99.0687, "002")
    assert created["reports"] == [{"kind": "usulan", "reason": "Keluarga miskin belum terdata",
                                   "resolution": "Diusulkan", "received_on": "2025-04-01",
                                   "receipt_id": receipt["receipt_id"]}]
    assert created["recommendation"]["recommendation"] == "continue"

    rows = publication(mock, "2032-04-20")
    assert 1 <= rows[central_id]["desil"] <= 3 and rows[central_id]["village_code"] == village

    # The same KK from the same village again (a returned round): the same family, updated.
    again = dict(usulan, ref="u1", address="Jl. Kenanga No. 5")
    receipt2 = push(mock, "v2-usulan-again", body(batch, village, "round-usulan-2", proposals=[again]))
    decide(mock)
    assert outcomes(mock, receipt2["receipt_id"])["u1"]["central_id"] == central_id
    assert family(mock, central_id)["address"] == "Jl. Kenanga No. 5"
    # From another village the same KK is somebody else's.
    other_village = next(f["village_code"] for f in pool.families if f["village_code"] != village)
    receipt3 = push(mock, "v2-usulan-elsewhere", body(batch, other_village, "round-usulan-3", proposals=[
        dict(usulan, members=[person(nik_for(other_village), "head", sex="L")])]))
    decide(mock)
    assert outcomes(mock, receipt3["receipt_id"])["u1"]["reason"] == \
        f"KK {usulan['kk_number']} is already registered (family {central_id})"


def test_each_rejection_rule_answers_its_reason_in_the_outcomes(mock, batch, pool):
    mine = pool.take(1)[0]
    other = pool.take(1, where=lambda f: f["village_code"] != mine["village_code"])[0]
    cid, village = mine["central_id"], mine["village_code"]
    member_nik = mine["members"][0]["nik"]
    elsewhere_nik = other["members"][0]["nik"]
    bad_nik = f"{village.replace('.', '')[:6]}321390{next(_serials):04d}"  # 32nd day of a month
    receipt = push(mock, "v2-rejections", body(
        batch, village, "round-rejections",
        results=[result({"central_id": "DT0000000000000000"}, "unknown"), result(other, "village"),
                 result(mine, "first"), result(mine, "again")],
        corrections=[{"ref": "field", "central_id": cid, "field": "swimming_pool", "before": None, "after": True},
                     {"ref": "code", "central_id": cid, "field": "floor_type", "before": None, "after": "gold"},
                     {"ref": "type", "central_id": cid, "field": "has_car", "before": None, "after": "yes"},
                     {"ref": "area", "central_id": cid, "field": "floor_area_m2", "before": None, "after": 12.5}],
        member_changes=[
            {"ref": "badnik", "central_id": cid, "change": "added", "nik": bad_nik, "member": person(bad_nik)},
            {"ref": "taken", "central_id": cid, "change": "added", "nik": elsewhere_nik,
             "member": person(elsewhere_nik)},
            {"ref": "stranger", "central_id": cid, "change": "deceased", "nik": elsewhere_nik, "date": "2025-01-01"},
            {"ref": "nodate", "central_id": cid, "change": "moved", "nik": member_nik},
            {"ref": "baddate", "central_id": cid, "change": "moved", "nik": member_nik, "date": "2025-02-30"},
            {"ref": "renik", "central_id": cid, "change": "corrected", "nik": member_nik,
             "fields": {"nik": {"before": member_nik, "after": elsewhere_nik}}}],
        proposals=[proposal("nohead", village, members=[person(nik_for(village))]),
                   proposal("badkk", village, kk="1272011302990000"),
                   proposal("oldkk", village, kk=mine["kk_number"]),
                   proposal("oldnik", village, members=[person(elsewhere_nik, "head")])],
        recommendations=[{"ref": "norec", "proposal_ref": "nohead", "recommendation": "stop",
                          "visited_on": "2025-01-01"}],
        reports=[{"ref": "norep", "kind": "sanggahan", "central_id": "DT0000000000000001", "reason": "x",
                  "resolution": "y", "received_on": "2025-01-01"}]))
    decide(mock)
    reasons = {ref: o["reason"] for ref, o in outcomes(mock, receipt["receipt_id"]).items()}
    assert reasons == {
        "unknown": "unknown central_id DT0000000000000000",
        "village": f"family {other['central_id']} belongs to village {other['village_code']}",
        "first": "", "again": f"duplicate result for family {cid} in this submission",
        "field": "unknown field swimming_pool", "code": "invalid value for floor_type",
        "type": "invalid value for has_car", "area": "invalid value for floor_area_m2",
        "badnik": f"invalid NIK {bad_nik}", "taken": f"NIK {elsewhere_nik} is registered to another family",
        "stranger": f"NIK {elsewhere_nik} is not a member of family {cid}",
        "nodate": "date is required for moved", "baddate": "invalid date 2025-02-30",
        "renik": f"NIK {elsewhere_nik} is registered to another family",
        "nohead": "no head of family", "badkk": "invalid KK 1272011302990000",
        "oldkk": f"KK {mine['kk_number']} is already registered (family {cid})",
        "oldnik": f"NIK {elsewhere_nik} is already registered (family {other['central_id']})",
        "norec": "proposal_ref nohead is not an accepted proposal of this submission",
        "norep": "unknown central_id DT0000000000000001",
    }
    decided = mock.ok("GET", f"/v1/submissions/{receipt['receipt_id']}")
    assert decided["status"] == "partial" and decided["outcome_counts"] == {"accepted": 1, "rejected": 19}
    assert decided["reason"] == "19 of 20 items rejected"
    assert family(mock, cid)["attrs"] == mine["attrs"]  # nothing rejected was applied
    assert [m["life_status"] for m in family(mock, cid)["members"]] == [m["life_status"] for m in mine["members"]]


# Pages and idempotency -------------------------------------------------------------------------------------------

def test_pages_arrive_in_any_order_repeat_safely_conflict_on_a_changed_body_and_stay_incomplete_until_all_are_in(
        mock, batch, pool):
    one, two, three = pool.take(3)
    village = one["village_code"]
    pages = {n: body(batch, village, "round-pages", page=n, page_count=3, results=[result(f, f"r{n}")])
             for n, f in ((1, one), (2, two), (3, three))}
    first = push(mock, "v2-pages", pages[3])
    assert (first["status"], first["pages_received"], first["page_count"]) == ("incomplete", [3], 3)
    assert mock.get(f"/v1/submissions/{first['receipt_id']}/outcomes").json()["code"] == "not_decided"
    second = push(mock, "v2-pages", pages[1])
    assert second["receipt_id"] == first["receipt_id"] and second["pages_received"] == [1, 3]
    assert push(mock, "v2-pages", pages[1], expect=200) == second  # the same page again: nothing new
    changed = mock.submit("v2-pages", {**pages[1], "results": [result(one, "r1", "not_eligible")]})
    assert changed.status_code == 409 and changed.json()["code"] == "idempotency_conflict"
    header = mock.submit("v2-pages", {**pages[2], "round_ref": "another-round"})
    assert header.status_code == 409 and header.json()["code"] == "idempotency_conflict"
    reused = mock.submit("v2-pages", {**pages[2], "results": [result(two, "r1")]})
    assert reused.status_code == 400 and "r1" in reused.json()["message"]
    decide(mock)
    assert mock.ok("GET", f"/v1/submissions/{first['receipt_id']}")["status"] == "incomplete"  # page 2 missing
    done = push(mock, "v2-pages", pages[2])
    assert (done["status"], done["pages_received"]) == ("received", [1, 2, 3])
    assert done["item_counts"] == {"results": 3, "corrections": 0, "member_changes": 0, "proposals": 0,
                                   "recommendations": 0, "reports": 0} and done["result_count"] == 3
    decide(mock)
    final = mock.ok("GET", f"/v1/submissions/{first['receipt_id']}")
    assert final["status"] == "accepted" and final["outcome_counts"] == {"accepted": 3, "rejected": 0}
    assert "reason" not in final and final["protocol"] == 2


def test_outcomes_are_cursor_paged_in_page_then_position_order(mock, batch, pool):
    families = pool.take(3)
    village = families[0]["village_code"]
    page2 = body(batch, village, "round-order", page=2, page_count=2, results=[result(families[2], "b-result")],
                 reports=[{"ref": "b-report", "kind": "sanggahan", "central_id": families[2]["central_id"],
                           "reason": "Sudah mampu", "resolution": "Dikeluarkan", "received_on": "2025-06-01"}])
    page1 = body(batch, village, "round-order", page=1, page_count=2,
                 corrections=[{"ref": "a-correction", "central_id": families[0]["central_id"], "field": "toilet",
                               "before": None, "after": "own"}],
                 results=[result(families[0], "a-result-1"), result(families[1], "a-result-2")])
    receipt = push(mock, "v2-order", page2)
    push(mock, "v2-order", page1)
    decide(mock)
    refs, cursor = [], None
    while True:
        answer = mock.ok("GET", f"/v1/submissions/{receipt['receipt_id']}/outcomes",
                         params={"limit": 2, **({"since": cursor} if cursor else {})})
        assert len(answer["outcomes"]) <= 2
        refs += [outcome["ref"] for outcome in answer["outcomes"]]
        cursor = answer["next_cursor"]
        if not answer["has_more"]:
            break
    assert refs == ["a-result-1", "a-result-2", "a-correction", "b-result", "b-report"]
    last = mock.ok("GET", f"/v1/submissions/{receipt['receipt_id']}/outcomes", params={"since": cursor})
    assert last == {"outcomes": [], "next_cursor": cursor, "has_more": False}
    kinds = {o["ref"]: o["kind"] for o in outcomes(mock, receipt["receipt_id"]).values()}
    assert kinds["a-correction"] == "correction" and kinds["b-report"] == "report"
    assert mock.get("/v1/submissions/R-999999/outcomes").status_code == 404
    assert mock.get(f"/v1/submissions/{receipt['receipt_id']}/outcomes?since=x").json()["code"] == "invalid_cursor"
    assert family(mock, families[2]["central_id"])["reports"][0]["reason"] == "Sudah mampu"


def test_a_newer_submission_of_the_same_round_withdraws_a_determination_and_restores_what_it_does_not_repeat(
        mock, batch, pool):
    rows = publication(mock, "2032-05-20")
    kept, dropped = pool.take(2, where=lambda f: rows[f["central_id"]]["desil"] <= 4 and len(f["members"]) >= 2
                              and all(m["life_status"] == "present" for m in f["members"]))
    village = kept["village_code"]
    dropped_member = dropped["members"][1]
    baby = person(nik_for(village, born=dt.date(2024, 6, 1)), birth_date="2024-06-01")
    cursor = determinations_cursor(mock)
    first = push(mock, "v2-supersede-1", body(
        batch, village, "round-supersede", results=[result(kept, "r1"), result(dropped, "r2")],
        corrections=[{"ref": "c1", "central_id": dropped["central_id"], "field": "roof_type",
                      "before": dropped["attrs"]["roof_type"], "after": "concrete"},
                     {"ref": "c2", "central_id": kept["central_id"], "field": "toilet",
                      "before": kept["attrs"]["toilet"], "after": "shared"}],
        member_changes=[{"ref": "m1", "central_id": dropped["central_id"], "change": "added", "nik": baby["nik"],
                         "member": baby},
                        {"ref": "m2", "central_id": dropped["central_id"], "change": "moved",
                         "nik": dropped_member["nik"], "date": "2025-01-01"}]))
    decide(mock)
    created = {d["central_id"]: d for d in new_determinations(mock, cursor)}
    assert set(created) == {kept["central_id"], dropped["central_id"]}
    changed = family(mock, dropped["central_id"])
    assert changed["attrs"]["roof_type"] == "concrete" and baby["nik"] in [m["nik"] for m in changed["members"]]

    # Returned and approved again: the newer state says the second family is not eligible after all.
    cursor = determinations_cursor(mock)
    second = push(mock, "v2-supersede-2", body(
        batch, village, "round-supersede", results=[result(kept, "r1"), result(dropped, "r2", "not_eligible",
                                                                                 "well_off")],
        corrections=[{"ref": "c2", "central_id": kept["central_id"], "field": "toilet",
                      "before": kept["attrs"]["toilet"], "after": "shared"}]))
    answer = decide(mock)
    assert answer["withdrawn"] == 1
    withdrawn = new_determinations(mock, cursor)
    assert [(d["central_id"], d["status"], d["receipt_id"], d["determination_id"]) for d in withdrawn] == [
        (dropped["central_id"], "withdrawn", second["receipt_id"], created[dropped["central_id"]]["determination_id"])]
    restored = family(mock, dropped["central_id"])
    assert restored["attrs"]["roof_type"] == dropped["attrs"]["roof_type"]
    assert [m["nik"] for m in restored["members"]] == [m["nik"] for m in dropped["members"]]
    assert {m["nik"]: m["life_status"] for m in restored["members"]}[dropped_member["nik"]] == "present"
    assert restored["final_results"] == [{"round_ref": "round-supersede", "receipt_id": second["receipt_id"],
                                          "decision": "not_eligible", "reason": "well_off"}]
    assert family(mock, kept["central_id"])["attrs"]["toilet"] == "shared"
    assert mock.ok("GET", f"/v1/submissions/{first['receipt_id']}")["status"] == "accepted"


def test_a_third_submission_of_the_round_makes_a_withdrawn_determination_kpm_again_with_a_new_cursor(
        mock, batch, pool):
    rows = publication(mock, "2032-07-20")
    target = pool.take(1, where=lambda f: rows[f["central_id"]]["desil"] <= 4)[0]
    village = target["village_code"]
    states = []
    for number, decision in enumerate(("eligible", "not_eligible", "eligible"), start=1):
        cursor = determinations_cursor(mock)
        receipt = push(mock, f"v2-again-{number}", body(batch, village, "round-again",
                                                         results=[result(target, "r1", decision)]))
        decide(mock)
        states += [(d["status"], d["receipt_id"] == receipt["receipt_id"], d["determination_id"])
                   for d in new_determinations(mock, cursor) if d["central_id"] == target["central_id"]]
    assert [state[:2] for state in states] == [("kpm", True), ("withdrawn", True), ("kpm", True)]
    assert len({state[2] for state in states}) == 1  # one determination, seen three times


def test_a_corrected_nik_replaces_the_old_one_and_an_older_visit_does_not_replace_a_newer_recommendation(
        mock, batch, pool):
    target = pool.take(1, where=lambda f: len(f["members"]) >= 2)[0]
    cid, village = target["central_id"], target["village_code"]
    member = target["members"][1]
    new_nik = nik_for(village, born=dt.date.fromisoformat(member["birth_date"]), woman=member["sex"] == "P")
    first = push(mock, "v2-renik", body(batch, village, "round-renik", member_changes=[
        {"ref": "m1", "central_id": cid, "change": "corrected", "nik": member["nik"],
         "fields": {"nik": {"before": member["nik"], "after": new_nik}, "education": {"before": None,
                                                                                        "after": "sma"}}}],
        recommendations=[{"ref": "v1", "central_id": cid, "recommendation": "reverify",
                          "visited_on": "2025-03-01"}]))
    decide(mock)
    push(mock, "v2-renik-2", body(batch, village, "round-renik-2", recommendations=[
        {"ref": "v1", "central_id": cid, "recommendation": "stop", "visited_on": "2025-02-01"}]))
    decide(mock)
    seen = family(mock, cid)
    corrected = seen["members"][1]
    assert (corrected["nik"], corrected["education"], corrected["name"]) == (new_nik, "sma", member["name"])
    assert member["nik"] not in [m["nik"] for m in seen["members"]]
    assert seen["recommendation"] == {"recommendation": "reverify", "visited_on": "2025-03-01",
                                      "receipt_id": first["receipt_id"]}
    # The old NIK is free now: another family may add the person.
    other = pool.take(1, village=village)[0]
    receipt = push(mock, "v2-renik-3", body(batch, village, "round-renik-3", member_changes=[
        {"ref": "m1", "central_id": other["central_id"], "change": "added", "nik": member["nik"],
         "member": {**member, "relationship": "relative"}}]))
    decide(mock)
    assert outcomes(mock, receipt["receipt_id"])["m1"]["outcome"] == "accepted"


# Counting ----------------------------------------------------------------------------------------------------------

def test_stats_count_every_item_applied_once_and_a_second_identical_push_changes_none_of_them(mock, batch, pool):
    decide(mock)  # whatever other tests left complete is decided before the baseline
    families = pool.take(3)
    village = families[0]["village_code"]
    newborn = person(nik_for(village, born=dt.date(2025, 2, 2)), birth_date="2025-02-02")
    pages = [
        body(batch, village, "round-stats", page=1, page_count=2,
             results=[result(f, f"r{n}") for n, f in enumerate(families)],
             corrections=[{"ref": "c1", "central_id": families[0]["central_id"], "field": "lighting",
                           "before": None, "after": "pln_metered"},
                          {"ref": "c2", "central_id": families[0]["central_id"], "field": "gold_bars",
                           "before": None, "after": 3}]),
        body(batch, village, "round-stats", page=2, page_count=2,
             member_changes=[{"ref": "m1", "central_id": families[1]["central_id"], "change": "added",
                              "nik": newborn["nik"], "member": newborn}],
             proposals=[proposal("p1", village)],
             recommendations=[{"ref": "v1", "central_id": families[2]["central_id"], "recommendation": "reverify",
                               "visited_on": "2025-02-03"}],
             reports=[{"ref": "s1", "kind": "sanggahan", "proposal_ref": "p1", "reason": "r", "resolution": "ok",
                       "received_on": "2025-02-04"}])]
    before = stats(mock)
    for page in pages:
        push(mock, "v2-stats", page)
    decide(mock)
    after = stats(mock)
    delta = {key: after[key] - before[key] for key in (
        "results_applied", "corrections_applied", "member_changes_applied", "proposals_applied",
        "recommendations_applied", "reports_applied", "items_rejected", "submission_pages_received",
        "submissions_received", "submissions_partial", "submission_requests")}
    assert delta == {"results_applied": 3, "corrections_applied": 1, "member_changes_applied": 1,
                     "proposals_applied": 1, "recommendations_applied": 1, "reports_applied": 1, "items_rejected": 1,
                     "submission_pages_received": 2, "submissions_received": 1, "submissions_partial": 1,
                     "submission_requests": 2}
    assert after["rejected_by_kind"]["correction"] == before["rejected_by_kind"]["correction"] + 1

    for page in pages:  # the whole submission again, as a retrying client would
        push(mock, "v2-stats", page, expect=200)
    assert decide(mock)["decided"] == 0
    again = stats(mock)
    for key in ("submission_requests", "requests_total", "faults_injected", "faults"):
        again.pop(key), after.pop(key)
    assert again == after


def test_a_v1_body_is_normalised_into_refs_and_decided_per_item(mock, batch, pool):
    one, two = pool.take(2)
    village = one["village_code"]
    v1 = {"batch_id": batch["batch_id"], "round_ref": "round-v1", "village_code": village, "programme": "PKH",
          "results": [{"central_id": one["central_id"], "decision": "corrected", "reason": "checked at home",
                       "corrections": {"toilet": "own", "pool": True}},
                      {"central_id": two["central_id"], "decision": "not_eligible", "reason": "well_off",
                       "corrections": {}},
                      {"central_id": "DT9999999999999999", "decision": "eligible"}],
          "proposals": [{"kk_number": kk_for(village), "attrs": {"toilet": "none"},
                         "members": [person(nik_for(village), "head")]}]}
    receipt = push(mock, "v2-from-v1", v1)
    assert receipt["protocol"] == 1 and receipt["item_counts"]["corrections"] == 2
    assert push(mock, "v2-from-v1", v1, expect=200)["receipt_id"] == receipt["receipt_id"]
    decide(mock)
    decided = outcomes(mock, receipt["receipt_id"])
    assert {ref: (o["kind"], o["outcome"], o["reason"]) for ref, o in decided.items()} == {
        "r1": ("result", "accepted", ""), "r2": ("result", "accepted", ""),
        "r3": ("result", "rejected", "unknown central_id DT9999999999999999"),
        "r1.toilet": ("correction", "accepted", ""), "r1.pool": ("correction", "rejected", "unknown field pool"),
        "p1": ("proposal", "accepted", "")}
    assert decided["p1"]["central_id"].startswith("P")
    seen = family(mock, one["central_id"])
    assert seen["attrs"]["toilet"] == "own"
    assert seen["final_results"][0]["decision"] == "corrected"  # the free-text reason went to the note
    assert mock.ok("GET", f"/v1/submissions/{receipt['receipt_id']}")["status"] == "partial"


def test_structural_problems_answer_400_and_an_unknown_protocol_answers_unsupported_protocol(mock, batch, pool):
    target = pool.take(1)[0]
    good = body(batch, target["village_code"], "round-400", results=[result(target, "r1")])
    cases = [
        ({**good, "protocol": 3}, "unsupported_protocol", "protocol"),
        ({**good, "page": 2, "page_count": 1}, "invalid_submission", "page"),
        ({**good, "page_count": 10001}, "invalid_submission", "page_count"),
        ({**good, "results": [{**result(target, "r1"), "decision": "maybe"}]}, "invalid_submission",
         "results[0].decision"),
        ({**good, "results": [{**result(target, "bad ref")}]}, "invalid_submission", "results[0].ref"),
        ({**good, "results": [result(target, "r1"), result(target, "r1")]}, "invalid_submission", "twice"),
        ({**good, "corrections": [{"ref": "c", "central_id": "x", "field": "toilet"}]}, "invalid_submission",
         "corrections[0].after is required"),
        ({**good, "corrections": [{"ref": "c", "central_id": "x", "after": 1}]}, "invalid_submission",
         "corrections[0].field is required"),
        ({**good, "member_changes": [{"ref": "m", "central_id": "x", "change": "added", "nik": "1",
                                      "member": person("2")}]}, "invalid_submission", "member.nik"),
        ({**good, "recommendations": [{"ref": "v", "central_id": "x", "proposal_ref": "p",
                                       "recommendation": "stop", "visited_on": "2025-01-01"}]},
         "invalid_submission", "exactly one"),
        ({**good, "reports": [{"ref": "s", "central_id": "x", "kind": "keluhan", "reason": "", "resolution": "",
                               "received_on": "2025-01-01"}]}, "invalid_submission", "reports[0].kind"),
        ({**good, "results": [result(target, f"r{n}") for n in range(1001)]}, "invalid_submission", "1000"),
        ({**good, "batch_id": "12.72-PKH-9999"}, "invalid_submission", "unknown batch"),
    ]
    for payload, code, words in cases:
        response = mock.submit("v2-structure", payload)
        assert response.status_code == 400, (words, response.text)
        assert response.json()["code"] == code and words in response.json()["message"], response.json()
    assert push(mock, "v2-structure", good)["status"] == "received"  # nothing of the refused bodies was kept


def test_the_familys_view_answers_404_for_an_unknown_central_id(mock, pool):
    target = pool.take(1)[0]
    response = mock.get("/v1/families/DT0000000000000042")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    seen = family(mock, target["central_id"])
    assert [m["nik"] for m in seen["members"]] == [m["nik"] for m in target["members"]]
    assert seen["origin"].startswith("batch:") and seen["recommendation"] is None and seen["reports"] == []
    assert all(m["life_event_date"] is None for m in seen["members"])


# Faults ------------------------------------------------------------------------------------------------------------

def test_faults_apply_to_outcomes_and_families_and_a_page_post_sometimes_loses_only_the_acknowledgement(
        mock, batch, pool, faults):
    target = pool.take(1)[0]
    village = target["village_code"]
    receipt = push(mock, "v2-faults-base", body(batch, village, "round-faults", results=[result(target, "r1")]))
    decide(mock)
    faults(fail_rate=1.0)
    for path in (f"/v1/submissions/{receipt['receipt_id']}/outcomes", f"/v1/families/{target['central_id']}"):
        response = mock.get(path)
        assert response.status_code in (500, 503) and response.json()["code"] == "injected_failure", path
    pages = [body(batch, village, f"round-faults-{n}", page=1, page_count=2, results=[result(target, "r1")])
             for n in range(20)]
    assert all(mock.submit(f"v2-lost-{n}", page).status_code in (500, 503) for n, page in enumerate(pages))
    faults(**NO_FAULTS)
    retried = [mock.submit(f"v2-lost-{n}", page) for n, page in enumerate(pages)]
    assert {response.status_code for response in retried} == {200, 201}
    assert {response.json()["pages_received"][0] for response in retried} == {1}
    assert {response.json()["status"] for response in retried} == {"incomplete"}


# Storage -----------------------------------------------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE batches (seq INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL UNIQUE, regency TEXT NOT NULL,
    programme TEXT NOT NULL, published_at TEXT NOT NULL, family_count INTEGER NOT NULL, member_count INTEGER NOT NULL,
    page_size INTEGER NOT NULL, page_count INTEGER NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE batch_pages (batch_id TEXT NOT NULL, page INTEGER NOT NULL, checksum TEXT NOT NULL,
    PRIMARY KEY (batch_id, page));
CREATE TABLE batch_families (batch_id TEXT NOT NULL, position INTEGER NOT NULL, page INTEGER NOT NULL,
    central_id TEXT NOT NULL, family_json TEXT NOT NULL, PRIMARY KEY (batch_id, position));
CREATE TABLE families (seq INTEGER PRIMARY KEY AUTOINCREMENT, central_id TEXT NOT NULL UNIQUE, regency TEXT NOT NULL,
    village_code TEXT NOT NULL, kk_number TEXT NOT NULL, attrs_json TEXT NOT NULL, living_members INTEGER NOT NULL,
    score REAL NOT NULL, desil INTEGER NOT NULL, origin TEXT NOT NULL);
CREATE TABLE identifiers (number TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE submissions (seq INTEGER PRIMARY KEY AUTOINCREMENT, receipt_id TEXT UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE, body_hash TEXT NOT NULL, body_json TEXT NOT NULL, status TEXT NOT NULL,
    received_at TEXT NOT NULL, decided_at TEXT, reason TEXT, result_count INTEGER NOT NULL,
    proposal_count INTEGER NOT NULL);
CREATE TABLE determinations (seq INTEGER PRIMARY KEY AUTOINCREMENT, determination_id TEXT UNIQUE,
    central_id TEXT NOT NULL, kk_number TEXT NOT NULL, regency TEXT NOT NULL, village_code TEXT NOT NULL,
    programme TEXT NOT NULL, period TEXT NOT NULL, status TEXT NOT NULL, receipt_id TEXT NOT NULL,
    UNIQUE (central_id, programme, period));
CREATE TABLE desil_publications (seq INTEGER PRIMARY KEY AUTOINCREMENT, period TEXT NOT NULL UNIQUE,
    published_at TEXT NOT NULL, row_count INTEGER NOT NULL, page_size INTEGER NOT NULL, page_count INTEGER NOT NULL,
    checksum TEXT NOT NULL);
CREATE TABLE desil_pages (period TEXT NOT NULL, page INTEGER NOT NULL, checksum TEXT NOT NULL,
    PRIMARY KEY (period, page));
CREATE TABLE desil_rows (period TEXT NOT NULL, position INTEGER NOT NULL, page INTEGER NOT NULL,
    central_id TEXT NOT NULL, desil INTEGER NOT NULL, score REAL NOT NULL, PRIMARY KEY (period, position));
"""


def test_a_data_dir_written_by_the_v1_mock_is_upgraded_at_start_up_and_keeps_its_receipts(tmp_path):
    from central.protocol import checksum

    family_doc = {"central_id": "DT127201100100300000001", "kk_number": "1272010101205001",
                  "village_code": "12.72.01.1001", "dusun": "Dusun I", "rt": "001", "rw": "002", "address": "Jl. A",
                  "attrs": {"toilet": "none"}, "members": [person("1272011503905001", "head", sex="L")]}
    v1_body = {"batch_id": "12.72-PKH-0001", "round_ref": "old", "village_code": "12.72.01.1001",
               "programme": "PKH", "results": [{"central_id": family_doc["central_id"], "decision": "eligible",
                                                "reason": "", "corrections": {"toilet": "own"}}], "proposals": []}
    path = tmp_path / "central.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute("INSERT INTO batches (batch_id, regency, programme, published_at, family_count, member_count, "
                     "page_size, page_count, checksum) VALUES ('12.72-PKH-0001', '12.72', 'PKH', "
                     "'2025-05-10T01:02:03+00:00', 1, 1, 50, 1, 'x')")
        conn.execute("INSERT INTO batch_families VALUES ('12.72-PKH-0001', 0, 1, ?, ?)",
                     (family_doc["central_id"], json.dumps(family_doc)))
        conn.execute("INSERT INTO families (central_id, regency, village_code, kk_number, attrs_json, "
                     "living_members, score, desil, origin) VALUES (?, '12.72', '12.72.01.1001', ?, ?, 1, 1.0, 2, "
                     "'batch:12.72-PKH-0001')", (family_doc["central_id"], family_doc["kk_number"],
                                                 json.dumps(family_doc["attrs"])))
        conn.execute("INSERT INTO submissions (receipt_id, idempotency_key, body_hash, body_json, status, received_at,"
                     " result_count, proposal_count) VALUES ('R-000001', 'old-key', ?, ?, 'received', "
                     "'2025-05-11T00:00:00+00:00', 1, 0)", (checksum(v1_body), json.dumps(v1_body)))
    store = Store(path)
    assert store.get_batch("12.72-PKH-0001")["deadline"] == "2025-06-09"
    assert store.get_batch("12.72-PKH-0001")["cycle"] == "2025-Q2"
    seen = store.family(family_doc["central_id"])
    assert (seen["dusun"], seen["address"]) == ("Dusun I", "Jl. A")
    assert [m["nik"] for m in seen["members"]] == ["1272011503905001"]
    receipt = store.receipt("R-000001")
    assert (receipt["status"], receipt["protocol"], receipt["item_counts"]["corrections"]) == ("received", 1, 1)
    decided = store.accept_submissions()
    assert decided["accepted"] == 1 and decided["determinations"] == 1
    assert store.family(family_doc["central_id"])["attrs"]["toilet"] == "own"
    assert Store(path).receipt("R-000001")["status"] == "accepted"  # a second start changes nothing


# The document ------------------------------------------------------------------------------------------------------

def test_answers_of_the_v2_endpoints_match_the_schemas_of_the_openapi_document(mock, batch, pool):
    yaml = pytest.importorskip("yaml")
    jsonschema = pytest.importorskip("jsonschema")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from .mockproc import PROJECT_ROOT

    document = yaml.safe_load((PROJECT_ROOT / "central" / "mock" / "openapi.yaml").read_text(encoding="utf-8"))
    registry = Registry().with_resource("urn:mock-central", Resource(contents=document, specification=DRAFT202012))

    def check(instance, name: str) -> None:
        schema = {"$ref": f"urn:mock-central#/components/schemas/{name}"}
        jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"][name])
        errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft202012Validator(
            schema, registry=registry).iter_errors(instance)]
        assert not errors, (name, errors)

    target = pool.take(1)[0]
    village = target["village_code"]
    incomplete = push(mock, "v2-schema", body(batch, village, "round-schema", page=2, page_count=2,
                                              proposals=[proposal("u1", village)]))
    check(incomplete, "Receipt")
    push(mock, "v2-schema", body(batch, village, "round-schema", page=1, page_count=2, results=[
        result(target, "r1")], recommendations=[{"ref": "v1", "central_id": target["central_id"],
                                                 "recommendation": "continue", "visited_on": "2025-01-01"}]))
    mock.ok("POST", "/admin/publish-desil", json={"period": "2032-06-20"})  # no family is unranked by now
    decided = decide(mock)
    receipt = mock.ok("GET", f"/v1/submissions/{incomplete['receipt_id']}")
    check(receipt, "Receipt")
    for outcome in outcomes(mock, receipt["receipt_id"]).values():
        check(outcome, "Outcome")
    created = outcomes(mock, receipt["receipt_id"])["u1"]["central_id"]
    for central_id in (target["central_id"], created):
        check(family(mock, central_id), "CentralFamily")
    check(mock.ok("GET", f"/v1/batches/{batch['batch_id']}"), "Batch")
    check(mock.ok("GET", f"/v1/batches/{batch['batch_id']}/pages/1"), "BatchPage")
    check(mock.ok("GET", "/v1/desil/publications/2032-06-20/pages/1"), "DesilPage")
    for determination in mock.ok("GET", "/v1/determinations", params={"limit": 500})["determinations"]:
        check(determination, "Determination")
    check(stats(mock), "Stats")
    assert set(decided) == set(document["paths"]["/admin/accept-submissions"]["post"]["responses"]["200"][
        "content"]["application/json"]["schema"]["required"])
