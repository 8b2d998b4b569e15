"""The desil change feed: after a publication, the families that entered or left desil 1-4 in the user's area,
each with the village verification behind the change (corrections, round, berita acara, approval)."""
import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst

from accounts.models import Role
from registry.models import Member
from verification import services
from verification.models import FieldCorrection, RoundEvent, RoundFamily

from ..central.desil_helpers import PageServer, publish_and_apply, row
from ..factories import (
    KECAMATAN,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    VILLAGE_OTHER_REGENCY,
    VILLAGE_SAME_KECAMATAN,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    client_for,
    round_with_families,
    village,
)

pytestmark = pytest.mark.django_db

OCTOBER, NOVEMBER = "2026-10-20", "2026-11-20"


def family(code: str, name: str, desil: int = 5):
    f = FamilyFactory(village=village(code), central_id=f"DT-{name}", desil=desil, floor_type="earth",
                      wall_type="woven_bamboo")
    MemberFactory(family=f, name=f"Kepala {name}")
    return f


def approved_round(code: str, dinsos, *, correct: bool = True, families: list | None = None, n: int = 3):
    """A round of ``code`` verified (a house corrected), ratified, signed, submitted and approved by ``dinsos``."""
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=code)
    head = UserFactory(role=Role.VILLAGE_HEAD, area_id=code)
    round_ = round_with_families(0 if families else n, code=code)
    for f in families or []:
        RoundFamily.objects.create(round=round_, family=f)
    entries = list(round_.entries.order_by("pk"))
    for index, entry in enumerate(entries):
        if correct and index != 1:
            services.family_correct(actor=operator, round_id=round_.pk, entry_id=entry.pk, expected_version=1,
                                    changes={"floor_type": "ceramic", "wall_type": "brick"})
        else:
            services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="not_eligible",
                                  reason="well_off", expected_version=1)
    services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 2), place="Balai Desa",
                             chair="Kades", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 5}])
    services.musdesus_sign_off(actor=head, round_id=round_.pk)
    services.round_submit(actor=operator, round_id=round_.pk)
    services.round_approve(actor=dinsos, round_id=round_.pk)
    return round_


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id=REGENCY, first_name="Dewi", last_name="Sartika")


@pytest.fixture
def world(dinsos):
    """Families in two villages of one kecamatan, another kecamatan and another regency; a round of the first
    village verified and approved between the October and November publications."""
    f = {name: family(VILLAGE, name) for name in ("corrected", "decided", "within")}
    f["neighbour"] = family(VILLAGE_SAME_KECAMATAN, "neighbour")
    f["far"] = family(VILLAGE_OTHER_KECAMATAN, "far")
    f["away"] = family(VILLAGE_OTHER_REGENCY, "away")
    server = PageServer()
    publish_and_apply(server, OCTOBER, [
        row(f["corrected"], 2, 8.0), row(f["decided"], 5, 14.0), row(f["within"], 7, 20.0),
        row(f["neighbour"], 6, 17.0), row(f["far"], 3, 10.0), row(f["away"], 2, 7.0)])
    round_ = approved_round(VILLAGE, dinsos, families=[f["corrected"], f["decided"]])
    RoundFamily.objects.filter(round=round_, family=f["corrected"]).update(centre_outcome="accepted")
    publish_and_apply(server, NOVEMBER, [
        row(f["corrected"], 6, 18.5), row(f["decided"], 4, 13.0), row(f["within"], 8, 22.0),
        row(f["neighbour"], 2, 8.0), row(f["far"], 7, 21.0), row(f["away"], 9, 30.0)])
    return {"families": f, "round": round_, "server": server}


def listed(response) -> set[str]:
    page = response.content.decode()
    return {name for name in ("corrected", "decided", "within", "neighbour", "far", "away")
            if f"Kepala {name}<" in page}


def feed(user, **params):
    return client_for(user).get(reverse("desil-changes"), params)


def test_dinsos_sees_the_families_that_entered_or_left_desil_1_4_in_its_regency(world, dinsos):
    response = feed(dinsos)
    assert response.status_code == 200
    assert listed(response) == {"corrected", "decided", "neighbour", "far"}  # not "within", not another regency
    page = response.content.decode()
    assert 'data-testid="total-entered">2<' in page and 'data-testid="total-left">2<' in page
    assert 'class="responsive"' in page and 'data-label="Mengapa"' in page  # folds into cards on a phone


def test_each_change_shows_the_correction_round_berita_acara_approval_and_centre_answer_behind_it(world, dinsos):
    page = feed(dinsos, q=world["families"]["corrected"].kk_number).content.decode()
    entry = RoundFamily.objects.get(round=world["round"], family=world["families"]["corrected"])
    corrections = list(FieldCorrection.objects.filter(entry=entry))
    assert len(corrections) == 2
    for c in corrections:
        assert f"{capfirst(c.field_label)}: <del>{c.old_value}</del> &rarr; <ins>{c.new_value}</ins>" in page
    assert reverse("round-entry", args=[world["round"].pk, entry.pk]) in page
    assert world["round"].musdesus.document_number in page
    assert reverse("round-berita-acara", args=[world["round"].pk]) in page
    approved = RoundEvent.objects.get(round=world["round"], to_state="approved")
    assert f"disetujui oleh Dewi Sartika pada {timezone.localtime(approved.at):%d-%m-%Y}" in page
    assert "Diterima pusat" in page
    assert "2 &rarr;" in page and "&rarr; 18,5<" in page and "18,500" not in page  # desil and score, old -> new
    assert reverse("family-detail", args=[world["families"]["corrected"].pk]) in page


def test_a_change_without_verification_behind_it_says_so(world, dinsos):
    page = feed(dinsos, q=world["families"]["neighbour"].kk_number).content.decode()
    assert "Kepala neighbour" in page and "tanpa verval desa" in page


def test_a_verval_approved_after_the_publication_does_not_stand_behind_its_changes(world, dinsos):
    later = timezone.now() + dt.timedelta(hours=1)
    RoundEvent.objects.filter(round=world["round"], to_state="approved").update(at=later)
    page = feed(dinsos, q=world["families"]["corrected"].kk_number).content.decode()
    assert "tanpa verval desa" in page and world["round"].musdesus.document_number not in page


@pytest.mark.parametrize("role,area,expected", [
    (Role.VILLAGE_OPERATOR, VILLAGE, {"corrected", "decided"}),
    (Role.VILLAGE_HEAD, VILLAGE, {"corrected", "decided"}),
    (Role.FACILITATOR, KECAMATAN, {"corrected", "decided", "neighbour"}),
    (Role.DINSOS, "12.72", {"away"}),
])
def test_each_role_sees_only_its_own_area(world, role, area, expected):
    assert listed(feed(UserFactory(role=role, area_id=area))) == expected


def test_the_area_drills_down_from_regency_to_kecamatan_to_village(world, dinsos):
    regency = feed(dinsos).content.decode()
    assert 'data-testid="summary"' in regency and "Per kecamatan" in regency
    assert f"area={KECAMATAN}" in regency and f"area={VILLAGE_OTHER_KECAMATAN[:8]}" in regency
    kecamatan = feed(dinsos, area=KECAMATAN)
    assert listed(kecamatan) == {"corrected", "decided", "neighbour"}
    assert "Per desa" in kecamatan.content.decode() and f"area={VILLAGE_SAME_KECAMATAN}" in kecamatan.content.decode()
    assert listed(feed(dinsos, area=VILLAGE_SAME_KECAMATAN)) == {"neighbour"}


def test_the_summary_counts_entered_and_left_per_kecamatan(world, dinsos):
    from monitoring.selectors import FeedFilters, desil_change_summary, feed_publications

    filters = FeedFilters.from_query(user=dinsos, params={}, publications=feed_publications())
    title, rows, totals = desil_change_summary(user=dinsos, filters=filters)
    assert [(r.code, r.entered, r.left) for r in rows] == [(KECAMATAN, 2, 1), (VILLAGE_OTHER_KECAMATAN[:8], 0, 1)]
    assert totals == {"entered": 2, "left": 2, "changed": 5}  # "within" moved 7 -> 8


@pytest.mark.parametrize("role,area,params", [
    (Role.VILLAGE_OPERATOR, VILLAGE, {"area": VILLAGE_SAME_KECAMATAN}),
    (Role.FACILITATOR, KECAMATAN, {"area": VILLAGE_OTHER_KECAMATAN}),
    (Role.DINSOS, REGENCY, {"area": VILLAGE_OTHER_REGENCY}),
    (Role.DINSOS, REGENCY, {"area": "12"}),  # above the user's own area
    (Role.DINSOS, REGENCY, {"publication": "2026-09-20"}),  # no such publication
    (Role.DINSOS, REGENCY, {"publication": "bukan-tanggal"}),
])
def test_a_filter_outside_the_users_reach_answers_404(world, role, area, params):
    assert feed(UserFactory(role=role, area_id=area), **params).status_code == 404


def test_movement_filter_and_kk_search(world, dinsos):
    assert listed(feed(dinsos, movement="entered")) == {"decided", "neighbour"}
    assert listed(feed(dinsos, movement="left")) == {"corrected", "far"}
    assert listed(feed(dinsos, movement="all")) == {"corrected", "decided", "within", "neighbour", "far"}
    assert listed(feed(dinsos, q=world["families"]["far"].kk_number[:14])) == {"far"}
    bad = feed(dinsos, q="1209' OR 1=1")
    assert "Cari dengan nomor KK" in bad.content.decode() and listed(bad) == {"corrected", "decided", "neighbour",
                                                                             "far"}


def test_an_earlier_publication_can_be_picked(world, dinsos):
    october = feed(dinsos, publication=OCTOBER, movement="all")
    # October ranked everyone for the first time.
    assert listed(october) == {"corrected", "decided", "within", "neighbour", "far"}


def test_the_feed_says_plainly_when_no_publication_has_been_applied(dinsos):
    page = feed(dinsos).content.decode()
    assert 'data-testid="no-publication"' in page


def test_the_feed_runs_a_fixed_number_of_queries_whatever_the_number_of_changes(world, dinsos,
                                                                                 django_assert_num_queries):
    client = client_for(dinsos)
    url = reverse("desil-changes")
    client.get(url)  # the first request of a session may load more
    with CaptureQueriesContext(connection) as few:
        assert len(listed(client.get(url))) == 4
    assert len(few.captured_queries) <= 14
    # Thirty more families, each verified in an approved round with corrections, change desil.
    more = [family(VILLAGE_SAME_KECAMATAN, f"more{i}", desil=2) for i in range(30)]
    approved_round(VILLAGE_SAME_KECAMATAN, dinsos, families=more)
    server = world["server"]
    publish_and_apply(server, "2026-12-20", [row(f, 8, 25.0) for f in more])
    publish_and_apply(server, "2027-01-20", [row(f, 2, 6.0) for f in more])
    with django_assert_num_queries(len(few.captured_queries)):
        page = client.get(url, {"publication": "2027-01-20"}).content.decode()
    assert page.count("<tr data-family=") == 25 and page.count("<del>") > 25


def test_dinsos_exports_the_filtered_feed_with_the_verification_as_text(world, dinsos):
    head = Member.objects.get(family=world["families"]["neighbour"])
    head.name = "=HYPERLINK(\"http://x\")"
    head.save()
    response = client_for(dinsos).get(reverse("desil-changes-export", args=["csv"]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_kk = {r["nomor_kk"]: r for r in rows}
    assert set(by_kk) == {world["families"][n].kk_number for n in ("corrected", "decided", "neighbour", "far")}
    corrected = by_kk[world["families"]["corrected"].kk_number]
    assert (corrected["desil_lama"], corrected["desil_baru"], corrected["skor_baru"]) == ("2", "6", "18.500")
    assert corrected["perubahan"] == "Keluar dari desil 1-4"
    entry = RoundFamily.objects.get(round=world["round"], family=world["families"]["corrected"])
    for c in FieldCorrection.objects.filter(entry=entry):
        assert f"{capfirst(c.field_label)}: {c.old_value} -> {c.new_value}" in corrected["koreksi"]
    assert corrected["berita_acara"] == world["round"].musdesus.document_number
    assert corrected["disetujui_oleh"] == "Dewi Sartika" and corrected["jawaban_pusat"] == "Diterima pusat"
    neighbour = by_kk[world["families"]["neighbour"].kk_number]
    assert neighbour["verval"].startswith("tanpa verval desa") and neighbour["kepala_keluarga"].startswith("'=")
    left_only = client_for(dinsos).get(reverse("desil-changes-export", args=["xlsx"]), {"movement": "left"})
    assert left_only.status_code == 200 and left_only["Content-Type"].startswith("application/vnd.openxml")


@pytest.mark.parametrize("role,area", [(Role.VILLAGE_OPERATOR, VILLAGE), (Role.FACILITATOR, KECAMATAN)])
def test_only_dinsos_and_administrators_export(world, role, area):
    client = client_for(UserFactory(role=role, area_id=area))
    assert client.get(reverse("desil-changes-export", args=["csv"])).status_code == 404
    assert "Unduh" not in client.get(reverse("desil-changes")).content.decode()


def test_an_unknown_export_format_answers_404(world, dinsos):
    unknown_format = reverse("desil-changes-export", args=["csv"]).replace(".csv", ".pdf")
    assert client_for(dinsos).get(unknown_format).status_code == 404
