"""Cek Bansos: masked answers, no enumeration, limits; reports with a reference; the village resolves."""
import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from distribution.models import CitizenReport, Determination
from groundcheck.models import Assignment
from verification.models import RoundFamily

from ..factories import KECAMATAN, VILLAGE, FamilyFactory, MemberFactory, UserFactory, round_with_families, village

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
            "reason": "Sudah mampu, punya toko", "reporter_name": "Warga", "reporter_phone": "", "website": ""}
    data.update(fields)
    return client.post(reverse("cek-bansos-report"), data, follow=True)


def test_an_objection_gets_a_reference_and_reaches_the_village_and_a_facilitator(recipient):
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    response = report(Client(), subject_nik=recipient.nik, reason="<script>alert(1)</script> mampu")
    saved = CitizenReport.objects.get()
    page = response.content.decode()
    assert saved.reference in page and "<script>alert(1)</script>" not in page
    assert saved.family == recipient.family
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
