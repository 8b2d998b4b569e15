"""The regency's review: approve (which queues the push to the centre) or return with notes."""

import pytest
from django.urls import reverse

from accounts.models import Role
from central import tasks
from verification.models import RoundFamily, RoundState, VerificationRound

from ..factories import VILLAGE, VILLAGE_SAME_KECAMATAN, UserFactory, client_for, submitted_round
from ..factories import round_with_families as make_round

pytestmark = pytest.mark.django_db



@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id="12.09")


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.push_submissions, "delay", lambda *a: sent.append(a))
    return sent


def state(round_):
    return VerificationRound.objects.get(pk=round_.pk).state


def test_approval_from_the_review_page_queues_exactly_one_push_after_commit(dinsos, queued,
                                                                            django_capture_on_commit_callbacks):
    round_, entries = submitted_round()
    client = client_for(dinsos)
    page = client.get(reverse("round-review", args=[round_.pk])).content.decode()
    assert entries[0].family.kk_number in page and "Musdesus" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("round-review", args=[round_.pk]), {"action": "approve"})
    assert state(round_) == RoundState.APPROVED and len(queued) == 1


def test_returning_needs_a_note_and_carries_family_notes_to_the_village(dinsos, queued):
    round_, entries = submitted_round()
    client = client_for(dinsos)
    response = client.post(reverse("round-review", args=[round_.pk]), {"action": "return", "note": ""}, follow=True)
    assert "Sebutkan" in response.content.decode() or "alasan" in response.content.decode().lower()
    assert state(round_) == RoundState.SUBMITTED
    client.post(reverse("round-review", args=[round_.pk]), {
        "action": "return", "note": "Periksa lagi keluarga mampu", f"family_note_{entries[0].pk}": "Foto rumah?"})
    assert state(round_) == RoundState.RETURNED and not queued
    assert RoundFamily.objects.get(pk=entries[0].pk).return_note == "Foto rumah?"
    operator_page = client_for(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)).get(
        reverse("round-entry", args=[round_.pk, entries[0].pk])).content.decode()
    assert "Foto rumah?" in operator_page


def test_approving_a_round_that_was_not_submitted_is_refused(dinsos, queued):
    round_ = make_round(2)
    response = client_for(dinsos).post(reverse("round-review", args=[round_.pk]), {"action": "approve"},
                                       follow=True)
    assert "tidak mungkin" in response.content.decode() or "Status" in response.content.decode()
    assert state(round_) == RoundState.OPEN and not queued


def test_bulk_approval_is_all_or_nothing(dinsos, queued, django_capture_on_commit_callbacks):
    first, _ = submitted_round()
    second, _ = submitted_round(code=VILLAGE_SAME_KECAMATAN)
    still_open = make_round(1)
    client = client_for(dinsos)
    client.post(reverse("rounds-approve"), {"round": [first.pk, still_open.pk]})
    assert state(first) == RoundState.SUBMITTED
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("rounds-approve"), {"round": [first.pk, second.pk]})
    assert state(first) == state(second) == RoundState.APPROVED and len(queued) == 1


def test_village_roles_and_other_regencies_cannot_review(queued):
    round_, _ = submitted_round()
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    other_dinsos = UserFactory(role=Role.DINSOS, area_id="12.72")
    for user in (operator, other_dinsos):
        assert client_for(user).post(reverse("round-review", args=[round_.pk]), {"action": "approve"}).status_code \
            == 404
    assert state(round_) == RoundState.SUBMITTED


def test_a_correction_stored_in_english_is_shown_in_the_readers_language_from_its_coded_values(dinsos):
    """Corrections made before the portal kept Bahasa Indonesia whatever the browser said were stored with English
    texts ("floor: Wood/board -> Ceramic"); the pages read their coded values instead."""
    from verification.models import FieldCorrection

    round_, entries = submitted_round()
    FieldCorrection.objects.create(entry=entries[0], field="floor_type", field_label="floor", old_value="Wood/board",
                                   new_value="Ceramic", old_raw="wood", new_raw="ceramic", corrected_by=dinsos)
    FieldCorrection.objects.create(entry=entries[0], field="has_car", field_label="car", old_value="no",
                                   new_value="yes", old_raw=False, new_raw=True, corrected_by=dinsos)
    client = client_for(dinsos)
    for url in (reverse("round-review", args=[round_.pk]), reverse("round-entry", args=[round_.pk, entries[0].pk])):
        page = client.get(url).content.decode()
        assert "Kayu/papan" in page and "Keramik" in page and "Wood/board" not in page, url
        assert "Lantai" in page or "lantai" in page
        assert ">Ceramic<" not in page and ">floor<" not in page
