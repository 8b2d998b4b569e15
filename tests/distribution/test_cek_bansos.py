"""Cek Bansos: masked answers, no enumeration, limits; reports with a reference; the village resolves."""
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Role
from distribution.models import CitizenReport, Determination
from groundcheck.models import Assignment
from verification.models import RoundFamily, RoundState, VerificationRound

from ..factories import (
    KECAMATAN,
    VILLAGE,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    registered_reporter,
    round_with_families,
    village,
)

pytestmark = pytest.mark.django_db
PLACE = {"province": "12", "regency": "12.09", "kecamatan": KECAMATAN, "village": VILLAGE}


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()  # rate-limit counters live in the cache (Redis in CI)
    yield
    cache.clear()


@pytest.fixture
def recipient():
    family = FamilyFactory(village=village(VILLAGE), desil=2)
    member = MemberFactory(family=family, name="Siti Aminah")
    Determination.objects.create(determination_id="D-1", central_id="X1", family=family, village_id=VILLAGE,
                                 programme="PKH", period="2026-11")
    MemberFactory(family=FamilyFactory(village=village(VILLAGE)), name="Siti Rahma")  # not a recipient
    return member


def test_search_shows_recipients_with_masked_names_and_nothing_private(recipient):
    response = Client().get(reverse("cek-bansos"), {**PLACE, "name": "siti aminah"})
    page = response.content.decode()
    assert [r["name"] for r in response.context["results"]] == ["S*** A*****"]
    assert "Program Keluarga Harapan (PKH) · November 2026" in page and "2026-11" not in page
    assert recipient.nik not in page and "Siti Aminah" not in page and "Rahma" not in page
    assert recipient.family.address not in page


def test_a_short_name_or_a_bogus_village_gets_a_message_not_results(recipient):
    response = Client().get(reverse("cek-bansos"), {**PLACE, "name": "si"})
    assert not response.context["results"] and "paling sedikit 3" in response.content.decode()
    response = Client().get(reverse("cek-bansos"), {**PLACE, "village": "99.99.99.9999", "name": "siti"})
    assert not response.context["results"] and "desa" in response.content.decode().lower()


def test_searches_are_limited_per_address(recipient):
    client = Client()
    for _ in range(20):
        assert client.get(reverse("cek-bansos"), {**PLACE, "name": "Siti Aminah"}).context["results"]
    response = client.get(reverse("cek-bansos"), {**PLACE, "name": "Siti Aminah"})
    assert not response.context["results"] and response.context["challenge"]


def report(client, **fields):
    data = {"kind": "sanggahan", "village": VILLAGE, "subject_name": "Siti Aminah", "subject_nik": "",
            "reason": "Sudah mampu, punya toko", "reporter_phone": "", "website": "", **registered_reporter()}
    data.update(fields)
    return client.post(reverse("cek-bansos-report"), data, follow=True)


def test_an_objection_gets_a_reference_and_reaches_the_village_and_a_facilitator(recipient):
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    response = report(Client(), subject_nik=recipient.nik, reason="<script>alert(1)</script> mampu")
    saved = CitizenReport.objects.get()
    page = response.content.decode()
    assert saved.reference in page and "<script>alert(1)</script>" not in page
    assert saved.family == recipient.family
    assert not Assignment.objects.exists()  # the ground-check comes when the village accepts the objection
    operator = Client()
    operator.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    operator.post(reverse("report-resolve", args=[saved.pk]), {"action": "accept", "resolution": ""})
    assert Assignment.objects.get(facilitator=facilitator).source == "objection"
    status = Client().get(reverse("cek-bansos-status"), {"reference": saved.reference.lower()})
    assert status.context["report"] == saved


def test_an_unknown_nik_is_accepted_the_same_way_so_nothing_can_be_learned(recipient):
    response = report(Client(), subject_nik="1209084501800099")
    assert response.status_code == 200 and CitizenReport.objects.get().family is None
    assert not Assignment.objects.exists()


def test_bots_and_bogus_villages_are_refused_and_nothing_is_saved(recipient):
    assert report(Client(), website="http://spam").status_code == 400
    assert report(Client(), village="99.99.99.9999").status_code == 400
    assert not CitizenReport.objects.exists()


def test_the_village_resolves_and_the_citizen_sees_the_outcome(recipient):
    round_ = round_with_families(0)
    entry = RoundFamily.objects.create(round=round_, family=recipient.family)
    report(Client(), subject_nik=recipient.nik)
    saved = CitizenReport.objects.get()
    operator = Client()
    operator.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    assert saved.reference in operator.get(reverse("report-queue")).content.decode()
    operator.post(reverse("report-resolve", args=[saved.pk]), {"action": "reject", "resolution": ""})
    assert CitizenReport.objects.get().status == "received"  # a rejection needs a reason
    operator.post(reverse("report-resolve", args=[saved.pk]), {"action": "accept", "resolution": "Akan diverval"})
    assert RoundFamily.objects.get(pk=entry.pk).flagged
    page = Client().get(reverse("cek-bansos-status"), {"reference": saved.reference}).content.decode()
    assert "Akan diverval" in page


def test_another_villages_operator_cannot_resolve(recipient):
    report(Client())
    saved = CitizenReport.objects.get()
    stranger = Client()
    stranger.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id="12.09.08.2004"))
    assert stranger.post(reverse("report-resolve", args=[saved.pk]), {"action": "accept"}).status_code == 404


# -- the region picker after a refused form -------------------------------------------------------------------
def test_a_refused_report_keeps_the_whole_region_picker_and_what_was_typed(recipient):
    response = Client().post(reverse("cek-bansos-report"), {
        "kind": "sanggahan", "village": VILLAGE, "subject_name": "Siti Aminah", "reason": "",
        "reporter_name": "Warga", "website": ""})
    assert response.status_code == 400
    assert response.context["chosen"] == PLACE
    page = response.content.decode()
    for name, code in PLACE.items():
        select = re.search(rf'<select id="id_{name}".*?</select>', page, re.S).group(0)
        assert f'<option value="{code}" selected>' in select, name
    assert 'value="Siti Aminah"' in page  # the citizen's text is kept beside the error
    assert 'href="#id_reason"' in page  # and the summary at the top points at the field
    # After the refusal the page's address is the report's: the picker and the search still go to Cek Bansos.
    assert f'<form method="get" action="{reverse("cek-bansos")}" class="card" id="region-picker">' in page
    assert f'<form method="get" action="{reverse("cek-bansos")}" class="card" role="search">' in page


def test_a_refused_search_keeps_the_region_picker(recipient):
    response = Client().get(reverse("cek-bansos"), {**PLACE, "name": "si"})
    assert response.context["chosen"] == PLACE and not response.context["results"]


def test_a_choice_outside_the_chosen_province_is_dropped_not_kept_selected(recipient):
    # The province changed to Kalimantan Barat: the regency, kecamatan and village of Sumatera Utara go.
    response = Client().get(reverse("cek-bansos"), {**PLACE, "province": "61"})
    assert response.context["chosen"] == {"province": "61", "regency": "", "kecamatan": "", "village": ""}
    assert 'name="name"' not in response.content.decode()  # no search for a village no longer chosen


def test_a_link_naming_only_the_village_opens_with_the_whole_picker_filled(recipient):
    response = Client().get(reverse("cek-bansos"), {"village": VILLAGE})
    assert response.context["chosen"] == PLACE


# -- namesakes ------------------------------------------------------------------------------------------------
def test_namesakes_in_one_village_are_told_apart_by_their_masked_kk_number():
    from privacy.masking import mask_nik

    families = []
    for n in range(2):
        family = FamilyFactory(village=village(VILLAGE))
        MemberFactory(family=family, name="Hasan Basri")
        Determination.objects.create(determination_id=f"D-H{n}", central_id=f"XH{n}", family=family,
                                     village_id=VILLAGE, programme="PKH", period="2026-11")
        families.append(family)
    response = Client().get(reverse("cek-bansos"), {**PLACE, "name": "Hasan Basri"})
    results = response.context["results"]
    assert [r["name"] for r in results] == ["H**** B****", "H**** B****"]
    assert sorted(r["kk"] for r in results) == sorted(mask_nik(f.kk_number) for f in families)
    assert results[0]["kk"] != results[1]["kk"]
    page = response.content.decode()
    for family in families:
        assert mask_nik(family.kk_number) in page
        assert family.kk_number not in page and family.address not in page
        assert family.members.get().nik not in page


# -- what the status page says --------------------------------------------------------------------------------
def _accept(report_obj):
    operator = Client()
    operator.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    operator.post(reverse("report-resolve", args=[report_obj.pk]), {"action": "accept", "resolution": ""})
    return CitizenReport.objects.get(pk=report_obj.pk)


def _status_page(report_obj):
    return Client().get(reverse("cek-bansos-status"), {"reference": report_obj.reference})


def _in_indonesian(message: str) -> str:
    with translation.override("id"):
        return translation.gettext(message)


def test_a_report_accepted_after_the_round_was_approved_says_it_waits_for_the_next_round(recipient):
    round_ = round_with_families(0)
    RoundFamily.objects.create(round=round_, family=recipient.family)
    VerificationRound.objects.filter(pk=round_.pk).update(state=RoundState.APPROVED)
    report(Client(), subject_nik=recipient.nik)
    accepted = _accept(CitizenReport.objects.get())
    assert accepted.status == "accepted" and accepted.entry is None  # nothing was taken into a round
    page = _status_page(accepted)
    assert page.context["progress"] == _in_indonesian("Accepted; it will be discussed in the next verval round.")
    text = page.content.decode()
    assert "Diterima dalam verval" not in text
    assert 'data-testid="centre"' not in text  # nor a line saying it goes to the centre with a round


def test_a_report_taken_into_an_open_rounds_family_says_accepted_into_the_verval(recipient):
    round_ = round_with_families(0)
    entry = RoundFamily.objects.create(round=round_, family=recipient.family)
    report(Client(), subject_nik=recipient.nik)
    accepted = _accept(CitizenReport.objects.get())
    assert accepted.entry == entry
    page = _status_page(accepted)
    assert page.context["progress"] == _in_indonesian("In the village's verval round.")
    assert 'data-testid="centre"' in page.content.decode()


def test_an_accepted_usulan_says_accepted_into_the_verval_only_once_tied_to_an_usulan_of_the_open_round():
    from verification.models import RoundFamily as Entry

    round_ = round_with_families(0)
    report(Client(), kind="usulan", subject_name="Keluarga Baru", reason="Belum terdata")
    accepted = _accept(CitizenReport.objects.get())
    waiting = _in_indonesian("Accepted; the village has yet to enter it as an usulan in its current verval round.")
    assert _status_page(accepted).context["progress"] == waiting
    proposal = Entry.objects.create(round=round_, family=FamilyFactory(village=village(VILLAGE)), is_proposal=True)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    from distribution import services

    services.report_link_proposal(actor=operator, report_id=accepted.pk, entry_id=proposal.pk)
    assert _status_page(accepted).context["progress"] == _in_indonesian(
        "Entered as an usulan in the village's verval round.")


def test_an_accepted_usulan_without_an_open_round_waits_for_the_next_round():
    round_ = round_with_families(0)
    VerificationRound.objects.filter(pk=round_.pk).update(state=RoundState.SUBMITTED)
    report(Client(), kind="usulan", subject_name="Keluarga Baru", reason="Belum terdata")
    accepted = _accept(CitizenReport.objects.get())
    assert accepted.resolution == _in_indonesian("Accepted by the village.")
    assert _status_page(accepted).context["progress"] == _in_indonesian(
        "Accepted; it will be discussed in the next verval round.")


def test_a_search_reads_a_fixed_number_of_queries_whatever_the_number_of_namesakes(recipient,
                                                                                   django_assert_num_queries):
    for n in range(5):
        family = FamilyFactory(village=village(VILLAGE))
        MemberFactory(family=family, name="Siti Aminah")
        Determination.objects.create(determination_id=f"D-S{n}", central_id=f"XS{n}", family=family,
                                     village_id=VILLAGE, programme="PKH", period="2026-11")
    # the four levels of the picker, the village, the recipients with their families, their programmes
    with django_assert_num_queries(7):
        response = Client().get(reverse("cek-bansos"), {**PLACE, "name": "Siti Aminah"})
    assert len(response.context["results"]) == 6
