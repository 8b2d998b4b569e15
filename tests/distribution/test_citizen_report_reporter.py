"""Who sends a citizen's report: identified against the register (NIK + KK + name + birth date, all four) or
not registered. An usulan is taken from anyone with the same answer; an objection only from someone registered
in the same village, and every mismatch is refused with one neutral message, nothing stored or echoed."""
import re
import statistics
import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from distribution.models import CitizenReport
from distribution.services import objection_refused_message

from ..factories import VILLAGE, VILLAGE_SAME_KECAMATAN, FamilyFactory, MemberFactory, village

pytestmark = pytest.mark.django_db


def neutral() -> str:
    with translation.override("id"):
        return objection_refused_message()


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reporter():
    return MemberFactory(family=FamilyFactory(village=village(VILLAGE)), name="Budi Santoso")


def identity(member, **changes) -> dict:
    fields = {"reporter_name": member.name, "reporter_nik": member.nik, "reporter_kk": member.family.kk_number,
              "reporter_birth_date": member.birth_date.isoformat()}
    return fields | changes


def send(kind: str, client=None, **fields):
    data = {"kind": kind, "village": VILLAGE, "subject_name": "Siti Aminah", "subject_nik": "",
            "reason": f"Alasan {kind} {sorted(fields.items())}", "reporter_name": "Warga", "reporter_phone": "",
            "website": ""}
    return (client or Client()).post(reverse("cek-bansos-report"), data | fields, HTTP_ACCEPT_LANGUAGE="id")


def test_an_usulan_from_someone_not_registered_is_taken_and_marked_unverified():
    response = send("usulan")
    assert response.status_code == 302
    saved = CitizenReport.objects.get()
    assert not saved.reporter_verified and saved.reporter_member is None


def test_an_usulan_from_a_matching_reporter_is_marked_verified_names_compared_without_case_or_spacing(reporter):
    response = send("usulan", **identity(reporter, reporter_name="  budi   SANTOSO "))
    assert response.status_code == 302
    saved = CitizenReport.objects.get()
    assert saved.reporter_verified and saved.reporter_member == reporter


def test_an_usulan_answers_the_same_whether_or_not_the_reporter_matches(reporter):
    matching = send("usulan", **identity(reporter))
    wrong = send("usulan", **identity(reporter, reporter_birth_date="1990-01-01"))
    assert matching.status_code == wrong.status_code == 302
    pages = [Client().get(r.url, HTTP_ACCEPT_LANGUAGE="id").content.decode() for r in (matching, wrong)]
    refs = [r.url.split("reference=")[1].split("&")[0] for r in (matching, wrong)]
    same = [re.sub(r'value="[A-Za-z0-9]{64}"', "", page.replace(ref, "REF"))
            for page, ref in zip(pages, refs, strict=True)]
    assert same[0] == same[1]  # csrf tokens aside
    assert [r.reporter_verified for r in CitizenReport.objects.order_by("created_at")] == [True, False]
    assert reporter.nik not in pages[0] and reporter.family.kk_number not in pages[0]


def test_an_objection_from_a_registered_villager_is_taken_and_verified(reporter):
    response = send("sanggahan", **identity(reporter, reporter_name="BUDI SANTOSO"))
    assert response.status_code == 302
    assert CitizenReport.objects.get().reporter_member == reporter


def test_an_objection_from_someone_not_registered_is_refused_beside_the_field_and_nothing_saved():
    response = send("sanggahan")
    assert response.status_code == 400
    assert "reporter_nik" in response.context["report_form"].errors
    assert not CitizenReport.objects.exists()


@pytest.mark.parametrize("wrong", ["nik", "kk", "name", "birth_date", "other_village", "half"])
def test_an_objection_whose_reporter_does_not_match_gets_one_neutral_message_and_nothing_saved(reporter, wrong):
    elsewhere = MemberFactory(family=FamilyFactory(village=village(VILLAGE_SAME_KECAMATAN)), name="Ani")
    changes = {"nik": identity(reporter, reporter_nik="1209084501800099"),
               "kk": identity(reporter, reporter_kk="1209080101990001"),
               "name": identity(reporter, reporter_name="Budi Santosa"),
               "birth_date": identity(reporter, reporter_birth_date="1981-05-17"),
               "other_village": identity(elsewhere),
               "half": identity(reporter, reporter_kk="", reporter_birth_date="")}[wrong]
    response = send("sanggahan", **changes)
    page = response.content.decode()
    assert response.status_code == 400 and not CitizenReport.objects.exists()
    if wrong == "half":  # a half-filled identity is a form error, said as such
        assert response.context["report_form"].errors["reporter_kk"]
        return
    assert escape(neutral()) in page
    assert response.context["report_form"].errors["reporter_nik"] == [neutral()]
    # Nothing of the register comes back: not the real KK, birth date or name of whoever holds that NIK.
    if wrong != "kk":
        assert "1209080101990001" not in page
    else:
        assert reporter.family.kk_number not in page
    assert "17/05/1980" not in page and "1980-05-17" not in page.replace(changes["reporter_birth_date"], "")
    if wrong == "name":
        assert "Budi Santoso" not in page


def test_every_refused_objection_reads_the_same_page_whichever_detail_was_wrong(reporter):
    pages = []
    for changes in (identity(reporter, reporter_nik="1209084501800099"),
                    identity(reporter, reporter_birth_date="1981-05-17")):
        response = send("sanggahan", **changes)
        form = response.context["report_form"]
        pages.append((response.status_code, dict(form.errors)))
    assert pages[0] == pages[1]


def test_a_refused_objection_answers_in_the_same_time_whether_or_not_the_nik_exists(reporter, settings):
    settings.REPORT_ANSWER_QUANTUM = QUANTUM = 0.25
    took = {"exists": [], "unknown": []}
    for n in range(3):
        for kind, changes in (("exists", identity(reporter, reporter_birth_date="1981-05-17")),
                              ("unknown", identity(reporter, reporter_nik=f"120908450180{n + 1:04d}"))):
            cache.clear()
            started = time.perf_counter()
            assert send("sanggahan", **changes).status_code == 400
            took[kind].append(time.perf_counter() - started)
    exists, unknown = statistics.median(took["exists"]), statistics.median(took["unknown"])
    # Both padded to the same whole number of quanta.
    assert min(exists, unknown) >= QUANTUM
    assert abs(exists - unknown) < QUANTUM / 2, (exists, unknown)
