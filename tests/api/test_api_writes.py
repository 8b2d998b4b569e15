"""Writes through the API go through the same services as the browser: role, area, state, versions, audit.

Each refusal answers in the stable error shape and leaves nothing changed.
"""
import datetime as dt
import uuid

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from distribution.models import CitizenReport
from groundcheck import services as groundcheck_services
from groundcheck.models import Visit
from registry.models import Family, Member
from verification.models import RoundEvent, RoundFamily, RoundState, VerificationRound

from ..factories import (
    KECAMATAN,
    OBJECT_IN_VILLAGE,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_REGENCY,
    MemberFactory,
    UserFactory,
    kk_for,
    nik_for,
    round_with_families,
    submitted_round,
)

pytestmark = pytest.mark.django_db


def client_for(role, area=None) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(role=role, area_id=area or VILLAGE))
    return client


@pytest.fixture
def operator():
    return client_for(Role.VILLAGE_OPERATOR)


@pytest.fixture
def dinsos(monkeypatch):
    from central import tasks

    monkeypatch.setattr(tasks.push_submissions, "delay", lambda *a: None)
    return client_for(Role.DINSOS, REGENCY)


# -- decisions -----------------------------------------------------------------------------------------------

def test_decision_by_api_is_stored_with_its_author_and_a_new_version(operator):
    entry = round_with_families(1).entries.get()
    response = operator.post(f"/api/v1/decisions/{entry.pk}/decide/",
                             {"decision": "not_eligible", "reason": "well_off", "note": "Punya mobil", "version": 1},
                             format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["decision"] == "not_eligible" and response.json()["version"] == 2
    entry = RoundFamily.objects.get(pk=entry.pk)
    assert (entry.decision, entry.decided_by.role) == ("not_eligible", Role.VILLAGE_OPERATOR)


def test_decision_based_on_an_old_version_answers_409_and_keeps_the_newer_one(operator):
    entry = round_with_families(1).entries.get()
    operator.post(f"/api/v1/decisions/{entry.pk}/decide/", {"decision": "eligible", "version": 1}, format="json")
    response = operator.post(f"/api/v1/decisions/{entry.pk}/decide/",
                             {"decision": "not_eligible", "reason": "moved", "version": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert RoundFamily.objects.get(pk=entry.pk).decision == "eligible"


def test_not_eligible_without_a_reason_answers_with_a_message_in_bahasa_indonesia(operator):
    entry = round_with_families(1).entries.get()
    response = operator.post(f"/api/v1/decisions/{entry.pk}/decide/", {"decision": "not_eligible", "version": 1},
                             format="json")
    assert response.status_code in (400, 409)
    assert "alasan" in response.json()["message"].lower()
    assert RoundFamily.objects.get(pk=entry.pk).decision == ""


def test_a_facilitator_may_read_decisions_but_not_make_them():
    entry = round_with_families(1).entries.get()
    client = client_for(Role.FACILITATOR, KECAMATAN)
    assert client.get(f"/api/v1/decisions/{entry.pk}/").status_code == 200
    response = client.post(f"/api/v1/decisions/{entry.pk}/decide/", {"decision": "eligible", "version": 1},
                           format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_invalid_decision_lists_the_field_errors(operator):
    entry = round_with_families(1).entries.get()
    response = operator.post(f"/api/v1/decisions/{entry.pk}/decide/", {"decision": "maybe"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["field_errors"]) == {"decision", "version"}


# -- rounds --------------------------------------------------------------------------------------------------

def test_round_submission_without_a_musdesus_is_refused_with_the_reason(operator):
    round_ = round_with_families(1)
    response = operator.post(f"/api/v1/rounds/{round_.pk}/submit/", format="json")
    assert response.status_code == 409
    assert response.json()["message"] == "Catat Musdesus sebelum mengirim putaran."
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.OPEN


def test_dinsos_approves_a_submitted_round_and_the_event_is_recorded(dinsos):
    round_, _entries = submitted_round()
    response = dinsos.post(f"/api/v1/rounds/{round_.pk}/approve/", {"note": "Sesuai"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == RoundState.APPROVED
    assert RoundEvent.objects.filter(round=round_, to_state=RoundState.APPROVED, note="Sesuai").exists()


def test_village_cannot_approve_its_own_round(operator):
    round_, _entries = submitted_round()
    assert operator.post(f"/api/v1/rounds/{round_.pk}/approve/", format="json").status_code == 403
    assert VerificationRound.objects.get(pk=round_.pk).state == RoundState.SUBMITTED


def test_return_needs_a_note_and_carries_family_notes(dinsos):
    round_, entries = submitted_round()
    assert dinsos.post(f"/api/v1/rounds/{round_.pk}/return/", {"note": ""}, format="json").status_code == 400
    response = dinsos.post(f"/api/v1/rounds/{round_.pk}/return/",
                           {"note": "Periksa lagi", "family_notes": {str(entries[0].pk): "Foto rumah?"}},
                           format="json")
    assert response.status_code == 200
    assert response.json()["state"] == RoundState.RETURNED
    assert RoundFamily.objects.get(pk=entries[0].pk).return_note == "Foto rumah?"


def test_an_approved_round_goes_back_for_rechecking_until_its_period_is_final(dinsos):
    from verification.services import period_ensure

    round_, _entries = submitted_round()
    assert dinsos.post(f"/api/v1/rounds/{round_.pk}/recheck/", {"note": "Cek lagi"}, format="json").status_code \
        == 409  # a submitted round is returned, not re-checked
    dinsos.post(f"/api/v1/rounds/{round_.pk}/approve/", format="json")
    VerificationRound.objects.filter(pk=round_.pk).update(period=period_ensure(code="2020-Q1"))
    final = dinsos.post(f"/api/v1/rounds/{round_.pk}/recheck/", {"note": "Cek lagi"}, format="json")
    assert final.status_code == 409 and "sudah final" in final.json()["message"]
    VerificationRound.objects.filter(pk=round_.pk).update(period=period_ensure(code="2099-Q4"))
    assert dinsos.post(f"/api/v1/rounds/{round_.pk}/recheck/", {"note": ""}, format="json").status_code == 400
    response = dinsos.post(f"/api/v1/rounds/{round_.pk}/recheck/", {"note": "Cek lagi"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == RoundState.RETURNED
    assert RoundEvent.objects.filter(round=round_, from_state=RoundState.APPROVED, to_state=RoundState.RETURNED,
                                     note="Cek lagi").exists()


# -- proposals -----------------------------------------------------------------------------------------------

def proposal(round_id, nik=None, kk=None):
    nik = nik or nik_for(VILLAGE, dt.date(1985, 6, 15), "P")
    return {"round": round_id,
            "family": {"kk_number": kk or kk_for(VILLAGE), "dusun": "I", "rt": "001", "rw": "002",
                       "address": "Jl. Sawah"},
            "members": [{"nik": nik, "name": "Siti Aminah", "sex": "P", "birth_place": "Kisaran",
                         "birth_date": "1985-06-15", "relationship": "head"}]}


def test_proposal_by_api_adds_the_family_to_the_register_and_the_round(operator):
    round_ = round_with_families(1)
    payload = proposal(round_.pk)
    response = operator.post("/api/v1/proposals/", payload, format="json")
    assert response.status_code == 201, response.json()
    family = Family.objects.get(kk_number=payload["family"]["kk_number"])
    assert family.origin == Family.Origin.PROPOSAL and family.members.get().name == "Siti Aminah"
    assert [e["id"] for e in operator.get("/api/v1/proposals/").json()["results"]] == [response.json()["id"]]


def test_proposal_of_a_nik_already_registered_answers_409_with_the_candidates(operator):
    round_ = round_with_families(1)
    existing = MemberFactory(family=round_.entries.get().family)
    families_before = Family.objects.count()
    response = operator.post("/api/v1/proposals/", proposal(round_.pk, nik=existing.nik), format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "possible_duplicates" and body["details"]["blocking"] is True
    assert body["details"]["candidates"][0]["family_id"] == existing.family_id
    assert Family.objects.count() == families_before


def test_proposal_with_an_invalid_nik_names_the_member_field_and_saves_nothing(operator):
    round_ = round_with_families(1)
    families_before = Family.objects.count()
    response = operator.post("/api/v1/proposals/", proposal(round_.pk, nik="123"), format="json")
    assert response.status_code == 400
    assert "members" in response.json()["field_errors"]
    assert Family.objects.count() == families_before


def test_proposal_into_a_round_of_another_area_is_refused(operator):
    other = round_with_families(1, code=VILLAGE_OTHER_REGENCY)
    response = operator.post("/api/v1/proposals/", proposal(other.pk), format="json")
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["round"]
    assert not Member.objects.filter(name="Siti Aminah").exists()


# -- ground-check visits -------------------------------------------------------------------------------------

@pytest.fixture
def assignment():
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    entry = round_with_families(1).entries.get()
    return groundcheck_services.assignment_create(
        actor=UserFactory(role=Role.DINSOS, area_id=REGENCY), family_id=entry.family_id,
        facilitator_id=facilitator.pk, note="Cek lantai")


def visit(assignment, **overrides):
    data = {"assignment": assignment.pk, "client_uuid": str(uuid.uuid4()), "visited_at": "2026-11-22T09:30:00Z",
            "recommendation": "reverify", "findings": "Lantai keramik", "latitude": "2.950000",
            "longitude": "99.600000", "checklist": {"floor_type": "ceramic", "has_car": False}}
    return {**data, **overrides}


def test_facilitator_device_posts_a_visit_once_even_when_it_is_sent_twice(assignment):
    client = APIClient()
    client.force_authenticate(assignment.facilitator)
    payload = visit(assignment)
    first = client.post("/api/v1/visits/", payload, format="json")
    again = client.post("/api/v1/visits/", payload, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["differences"] == [["floor_type", "lantai", "Tanah", "Keramik"]]
    assert Visit.objects.count() == 1
    assert RoundFamily.objects.get(family=assignment.family).flagged


def test_visit_for_someone_elses_assignment_is_refused(assignment):
    client = client_for(Role.FACILITATOR, KECAMATAN)
    response = client.post("/api/v1/visits/", visit(assignment), format="json")
    assert response.status_code == 403
    assert not Visit.objects.exists()


def test_visit_outside_indonesia_or_with_an_unknown_checklist_value_is_refused(assignment):
    client = APIClient()
    client.force_authenticate(assignment.facilitator)
    response = client.post("/api/v1/visits/", visit(assignment, latitude="40.0", checklist={"floor_type": "gold"}),
                           format="json")
    assert response.status_code == 400
    assert set(response.json()["field_errors"]) == {"latitude", "checklist"}
    assert not Visit.objects.exists()


# -- citizens' reports ---------------------------------------------------------------------------------------

def test_village_resolves_a_citizens_report_and_a_rejection_needs_a_reason(operator):
    report = OBJECT_IN_VILLAGE[CitizenReport](VILLAGE)
    url = f"/api/v1/citizen-reports/{report.pk}/resolve/"
    refused = operator.post(url, {"accept": False}, format="json")
    assert refused.status_code == 409
    assert CitizenReport.objects.get(pk=report.pk).status == CitizenReport.Status.RECEIVED
    response = operator.post(url, {"accept": False, "resolution": "Sudah menerima PKH"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == CitizenReport.Status.REJECTED


def test_service_errors_speak_english_when_asked(operator):
    round_ = round_with_families(1)
    response = operator.post(f"/api/v1/rounds/{round_.pk}/submit/", format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["message"] == "Record the Musdesus before submitting the round."


def test_api_documentation_describes_every_route_and_renders(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/families/", "/api/v1/proposals/", "/api/v1/visits/", "/api/v1/programmes/",
                 "/api/v1/rounds/{id}/approve/", "/api/v1/citizen-reports/{id}/resolve/", "/api/v1/sync/batches/"):
        assert path in schema["paths"], path
    decide = schema["paths"]["/api/v1/decisions/{id}/decide/"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(decide)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert b"swagger-ui" in page.content and b"cdn" not in page.content.lower()
