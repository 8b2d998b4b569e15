"""Recording a desil publication: who changed desil and how, the score range per desil, the families the
register does not hold, and the publication's counters; the same on PostgreSQL and through the ORM."""
import csv
import io
import types
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from central import desil as desil_module
from central.desil import apply_publication
from central.ingest import BatchRejected
from central.models import DesilPublication, DownloadedPage, UnmatchedRanking
from registry.models import DesilChange, DesilRanking, DesilThreshold, Family

from ..factories import VILLAGE, VILLAGE_OTHER_REGENCY, FamilyFactory, UserFactory, client_for
from .desil_helpers import PageServer, publish, publish_and_apply, row

pytestmark = pytest.mark.django_db

OCTOBER, NOVEMBER = "2026-10-20", "2026-11-20"


@pytest.fixture(params=["postgresql", "orm"])
def database_path(request, monkeypatch):
    """Both ways of applying: set-based SQL on PostgreSQL, the ORM elsewhere (SQLite under `make run`)."""
    if request.param == "orm":
        monkeypatch.setattr(desil_module, "connection", types.SimpleNamespace(vendor="sqlite"))
    return request.param


@pytest.fixture
def families():
    return {name: FamilyFactory(central_id=f"DT-{name}", desil=None) for name in "ABCDE"}


@pytest.fixture
def server():
    return PageServer()


def october_rows(f):
    return [row(f["A"], 2, 10.5), row(f["B"], 6, 20.0), row(f["C"], 3, 12.0), row(f["D"], 8, 30.0),
            row("DT-X", 5, 15.0, village_code=VILLAGE)]


def november_rows(f):
    return [row(f["A"], 6, 21.25), row(f["B"], 3, 12.5), row(f["C"], 3, 12.25), row(f["D"], 9, 33.0),
            row(f["E"], 2, 9.0),
            row("DT-X", 5, 16.0, village_code=VILLAGE),
            {"central_id": "DT-Y", "desil": 1, "score": 4.0},  # a protocol v1 row: no village code
            row("DT-Z", 10, 40.0, village_code=VILLAGE_OTHER_REGENCY)]


def changes(period):
    return {c.family.central_id: (c.old_desil, c.new_desil, c.old_score, c.new_score, c.movement)
            for c in DesilChange.objects.filter(period=period).select_related("family")}


def snapshot():
    return [list(model.objects.order_by("id").values())
            for model in (DesilChange, DesilRanking, DesilThreshold, UnmatchedRanking)] + [
        list(Family.objects.order_by("id").values("id", "desil", "updated_at"))]


def test_a_publication_records_each_familys_old_and_new_desil_and_how_it_moved(database_path, families, server):
    publish_and_apply(server, OCTOBER, october_rows(families))
    # The first publication ranks everyone for the first time: old is empty, desil 1-4 counts as entering.
    assert changes(OCTOBER) == {
        "DT-A": (None, 2, None, Decimal("10.500"), "entered"), "DT-B": (None, 6, None, Decimal("20.000"), "within"),
        "DT-C": (None, 3, None, Decimal("12.000"), "entered"), "DT-D": (None, 8, None, Decimal("30.000"), "within")}

    november = publish_and_apply(server, NOVEMBER, november_rows(families))
    assert changes(NOVEMBER) == {
        "DT-A": (2, 6, Decimal("10.500"), Decimal("21.250"), "left"),
        "DT-B": (6, 3, Decimal("20.000"), Decimal("12.500"), "entered"),
        "DT-D": (8, 9, Decimal("30.000"), Decimal("33.000"), "within"),
        "DT-E": (None, 2, None, Decimal("9.000"), "entered"),
    }  # C kept desil 3 (only its score moved): no row
    assert DesilChange.objects.get(family=families["A"], period=NOVEMBER).village_id == VILLAGE
    assert dict(Family.objects.values_list("central_id", "desil")) == {
        "DT-A": 6, "DT-B": 3, "DT-C": 3, "DT-D": 9, "DT-E": 2}
    assert (november.state, november.rows_applied, november.changed_count, november.entered_count,
            november.left_count, november.unknown_count) == ("applied", 5, 4, 2, 1, 3)


def test_a_publication_keeps_the_score_range_of_each_desil_over_all_its_rows(database_path, families, server):
    publish_and_apply(server, NOVEMBER, november_rows(families))
    thresholds = {t.desil: (t.min_score, t.max_score, t.families)
                  for t in DesilThreshold.objects.filter(period=NOVEMBER)}
    assert thresholds == {
        1: (Decimal("4.000"), Decimal("4.000"), 1), 2: (Decimal("9.000"), Decimal("9.000"), 1),
        3: (Decimal("12.250"), Decimal("12.500"), 2), 5: (Decimal("16.000"), Decimal("16.000"), 1),
        6: (Decimal("21.250"), Decimal("21.250"), 1), 9: (Decimal("33.000"), Decimal("33.000"), 1),
        10: (Decimal("40.000"), Decimal("40.000"), 1)}  # the unmatched families count too


def test_families_the_register_does_not_hold_are_recorded_with_their_village_not_dropped(
        database_path, families, server):
    publish_and_apply(server, NOVEMBER, november_rows(families))
    assert {(u.central_id, u.village_code, u.desil, u.score) for u in UnmatchedRanking.objects.all()} == {
        ("DT-X", VILLAGE, 5, Decimal("16.000")), ("DT-Y", "", 1, Decimal("4.000")),
        ("DT-Z", VILLAGE_OTHER_REGENCY, 10, Decimal("40.000"))}
    assert not DesilRanking.objects.filter(family__central_id__in=["DT-X", "DT-Y", "DT-Z"]).exists()


def test_applying_the_same_publication_again_changes_nothing(database_path, families, server):
    publish_and_apply(server, OCTOBER, october_rows(families))
    november = publish_and_apply(server, NOVEMBER, november_rows(families))
    before, requests = snapshot(), server.requests
    DesilPublication.objects.filter(pk=november.pk).update(state=DesilPublication.State.DISCOVERED)
    apply_publication(publication=november, client=server)
    assert snapshot() == before
    assert server.requests == requests  # the stored pages were used again, nothing downloaded


def test_a_replaced_publication_is_applied_over_the_earlier_one(database_path, families, server):
    publish_and_apply(server, OCTOBER, october_rows(families))
    publish_and_apply(server, NOVEMBER, november_rows(families))
    first_a = DesilChange.objects.get(family=families["A"], period=NOVEMBER)
    # The centre re-checks: A stays in desil 2 after all, B goes to 4, and X has reached the register.
    x = FamilyFactory(central_id="DT-X", desil=None)
    replaced = november_rows(families)
    replaced[0], replaced[1] = row(families["A"], 2, 10.0), row(families["B"], 4, 13.0)
    november = publish_and_apply(server, NOVEMBER, replaced)
    assert changes(NOVEMBER) == {
        "DT-B": (6, 4, Decimal("20.000"), Decimal("13.000"), "entered"),
        "DT-D": (8, 9, Decimal("30.000"), Decimal("33.000"), "within"),
        "DT-E": (None, 2, None, Decimal("9.000"), "entered"),
        "DT-X": (None, 5, None, Decimal("16.000"), "within"),  # ranked in the register for the first time
    }
    assert not DesilChange.objects.filter(pk=first_a.pk).exists()  # A no longer differs: its row is gone
    assert set(UnmatchedRanking.objects.filter(period=NOVEMBER).values_list("central_id", flat=True)) == {
        "DT-Y", "DT-Z"}
    x.refresh_from_db()
    families["A"].refresh_from_db()
    assert (x.desil, families["A"].desil) == (5, 2)
    assert (november.changed_count, november.entered_count, november.left_count, november.unknown_count) == (
        4, 2, 0, 2)
    # The pages of the earlier version were replaced by the new ones.
    assert DownloadedPage.objects.filter(stream="desil", ref=NOVEMBER).count() == november.page_count


@pytest.mark.parametrize("bad_row,message", [
    ({"central_id": "DT-A", "desil": 11, "score": 1.0}, "desil"),
    ({"central_id": "DT-A", "desil": 3, "score": "tinggi"}, "score"),
    ({"central_id": "DT-Q", "desil": 3, "score": 1.0, "village_code": "12.09; DROP"}, "village_code"),
    ({"central_id": "", "desil": 3, "score": 1.0}, "central_id"),
    ({"central_id": "DT-B", "desil": 3, "score": 1.0}, "DT-B"),  # ranked twice
    ({"central_id": "DT-B", "desil": 3, "score": 12.5}, "DT-B"),  # twice the same
    ({"central_id": "DT-Y", "desil": 2, "score": 1.0}, "DT-Y"),  # twice, and not in the register
    ("DT-Q", "not an object|bukan objek"),
    (["DT-Q", 3], "not an object|bukan objek"),
    ({"central_id": 12345, "desil": 3}, "central_id"),
    ({"central_id": "Q" * 33, "desil": 3}, "central_id"),
    ({"central_id": "DT-\u0001Q", "desil": 3}, "central_id"),
    ({"central_id": "DT-\u0000Q", "desil": 3}, "central_id"),
    ({"central_id": "DT-Q", "desil": True}, "desil"),
    ({"central_id": "DT-Q", "desil": 3.5}, "desil"),
    ({"central_id": "DT-Q", "desil": "3"}, "desil"),
    ({"central_id": "DT-Q", "desil": 10 ** 30}, "desil"),
    ({"central_id": "DT-Q"}, "desil"),
    ({"central_id": "DT-Q", "desil": 3, "score": True}, "score"),
    ({"central_id": "DT-Q", "desil": 3, "score": 100000}, "score"),
    ({"central_id": "DT-Q", "desil": 3, "village_code": 1209}, "village_code"),
    ({"central_id": "DT-Q", "desil": 3, "village_code": "12.09\n"}, "village_code"),
])
def test_a_publication_with_a_bad_row_is_refused_whole_with_the_reason(database_path, families, server, bad_row,
                                                                       message):
    publish_and_apply(server, OCTOBER, october_rows(families))
    before = snapshot()
    publication = publish(server, NOVEMBER, [*november_rows(families), bad_row])
    with pytest.raises(BatchRejected, match=message):
        apply_publication(publication=publication, client=server)
    assert snapshot() == before


def test_a_publication_is_recorded_the_same_way_on_postgresql_and_through_the_orm(families, monkeypatch):
    results = []
    for path in ("postgresql", "orm"):
        if path == "orm":
            monkeypatch.setattr(desil_module, "connection", types.SimpleNamespace(vendor="sqlite"))
        server = PageServer()
        publish_and_apply(server, OCTOBER, october_rows(families))
        november = publish_and_apply(server, NOVEMBER, november_rows(families))
        results.append((changes(OCTOBER), changes(NOVEMBER),
                        sorted(DesilThreshold.objects.values_list("period", "desil", "min_score", "max_score",
                                                                  "families")),
                        sorted(UnmatchedRanking.objects.values_list("period", "central_id", "village_code", "desil")),
                        (november.rows_applied, november.changed_count, november.entered_count,
                         november.left_count, november.unknown_count)))
        for model in (DesilChange, DesilRanking, DesilThreshold, UnmatchedRanking, DownloadedPage, DesilPublication):
            model.objects.all().delete()
    assert results[0] == results[1]


def test_the_sync_page_counts_what_each_publication_changed(families, server):
    publish_and_apply(server, OCTOBER, october_rows(families))
    publish_and_apply(server, NOVEMBER, november_rows(families))
    page = client_for(UserFactory(role=Role.DINSOS, area_id="12.09")).get(reverse("sync-overview")).content.decode()
    assert "4 berubah, 2 masuk desil 1-4, 1 keluar, " in page
    assert f'<a href="{reverse("sync-unmatched", args=[NOVEMBER])}">3 tidak ada di register</a>' in page
    assert f'{reverse("desil-changes")}?publication={NOVEMBER}' in page


def test_dinsos_lists_and_exports_the_unmatched_families_of_its_own_regency(families, server):
    publish_and_apply(server, NOVEMBER, november_rows(families))
    client = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    page = client.get(reverse("sync-unmatched", args=[NOVEMBER])).content.decode()
    assert "DT-X" in page and "DT-Z" not in page and "DT-Y" not in page  # 12.72 and unknown villages are not theirs
    assert 'class="responsive"' in page
    other = client_for(UserFactory(role=Role.DINSOS, area_id="12.72")).get(reverse("sync-unmatched", args=[NOVEMBER]))
    assert "DT-Z" in other.content.decode() and "DT-X" not in other.content.decode()
    export = client.get(reverse("sync-unmatched-export", args=[NOVEMBER, "csv"]))
    assert list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")))) == [
        ["publikasi", "id_dtsen", "kode_desa", "desil", "skor"], [NOVEMBER, "DT-X", VILLAGE, "5", "16.000"]]


def test_an_unmatched_id_that_looks_like_a_formula_is_exported_as_text(families, server):
    publish_and_apply(server, NOVEMBER, [row("=CMD()", 3, 1.0, village_code=VILLAGE)])
    export = client_for(UserFactory(role=Role.DINSOS, area_id="12.09")).get(
        reverse("sync-unmatched-export", args=[NOVEMBER, "csv"]))
    assert "'=CMD()" in export.content.decode()


def test_the_unmatched_list_is_for_dinsos_and_a_known_publication_only(families, server):
    publish_and_apply(server, NOVEMBER, november_rows(families))
    operator = client_for(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    assert operator.get(reverse("sync-unmatched", args=[NOVEMBER])).status_code == 403
    dinsos = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    assert dinsos.get(reverse("sync-unmatched", args=["2026-09-20"])).status_code == 404
    assert dinsos.get(reverse("sync-unmatched", args=["kemarin"])).status_code == 404
    unknown_format = reverse("sync-unmatched-export", args=[NOVEMBER, "csv"]).replace(".csv", ".exe")
    assert dinsos.get(unknown_format).status_code == 404


def test_an_older_publication_applied_late_leaves_the_current_desil_with_the_newer_one(database_path, families,
                                                                                       server):
    publish_and_apply(server, NOVEMBER, november_rows(families))
    publish_and_apply(server, OCTOBER, october_rows(families))
    assert dict(Family.objects.values_list("central_id", "desil")) == {
        "DT-A": 6, "DT-B": 3, "DT-C": 3, "DT-D": 9, "DT-E": 2}


def test_a_family_deleted_takes_its_rankings_and_desil_changes_with_it(families, server):
    # Their link to the family is kept by Django, not by a database constraint (registry migration 0008).
    publish_and_apply(server, OCTOBER, october_rows(families))
    publish_and_apply(server, NOVEMBER, november_rows(families))
    a = families["A"]
    assert a.desil_rankings.count() == 2 and a.desil_changes.count() == 2
    a.delete()
    assert not DesilRanking.objects.filter(family_id=a.pk).exists()
    assert not DesilChange.objects.filter(family_id=a.pk).exists()
    assert DesilRanking.objects.filter(family=families["B"]).count() == 2


def test_the_current_desil_is_in_no_index_and_the_family_table_leaves_room_to_update_it_in_place():
    # A publication rewrites a third of a regency's desil: in no index, with room left on each page, each
    # change is a HOT update instead of a new entry in every index of the table (docs/performance.md).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'registry_family'")
        indexes = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'registry_family'")
        options = cursor.fetchone()[0]
    assert indexes and not [d for d in indexes if "desil" in d]
    assert "fillfactor=70" in options


def test_the_change_feed_is_indexed_behind_the_publication_date_only():
    # Each index is written for each of a publication's hundreds of thousands of changes (registry 0009).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'registry_desilchange'")
        indexes = dict(cursor.fetchall())
    assert sorted(indexes) == ["desil_change_feed", "desil_change_once", "registry_desilchange_pkey"]
    assert "(period, movement, village_id)" in indexes["desil_change_feed"]


def test_each_page_is_kept_with_its_rows_checked_as_csv_and_a_page_with_a_bad_row_without(families, server):
    bad = {"central_id": "DT-Q", "desil": 11, "score": 1.0}
    publication = publish(server, NOVEMBER, [*november_rows(families), bad], page_size=3)
    with pytest.raises(BatchRejected, match="desil"):
        apply_publication(publication=publication, client=server)
    staged = dict(DownloadedPage.objects.filter(stream="desil", ref=NOVEMBER).values_list("number", "staged"))
    assert list(csv.reader(io.StringIO(staged[1]))) == [
        ["DT-A", VILLAGE, "6", "21.25"], ["DT-B", VILLAGE, "3", "12.5"], ["DT-C", VILLAGE, "3", "12.25"]]
    assert list(csv.reader(io.StringIO(staged[2]))) == [
        ["DT-D", VILLAGE, "9", "33.0"], ["DT-E", VILLAGE, "2", "9.0"], ["DT-X", VILLAGE, "5", "16.0"]]
    assert staged[3] is None  # DT-Y, DT-Z and the bad row: the apply reads its JSON to name the row


def test_pages_kept_without_csv_are_applied_as_pages_kept_with_it(families, monkeypatch):
    # Pages stored before they kept their rows as CSV (or re-read when a page's CSV is missing) give the same
    # records as the CSV the apply normally copies in.
    results = []
    for keep_csv in (True, False):
        server = PageServer()
        publish_and_apply(server, OCTOBER, october_rows(families))
        november = publish(server, NOVEMBER, november_rows(families))
        desil_module._download(november, server)
        if not keep_csv:
            assert DownloadedPage.objects.filter(ref=NOVEMBER, staged__isnull=False).update(staged=None) == 3
        apply_publication(publication=november, client=server)
        november.refresh_from_db()
        results.append((changes(NOVEMBER), sorted(UnmatchedRanking.objects.values_list("central_id", "desil")),
                        november.rows_applied, november.changed_count))
        for model in (DesilChange, DesilRanking, DesilThreshold, UnmatchedRanking, DownloadedPage, DesilPublication):
            model.objects.all().delete()
    assert results[0] == results[1]
    assert results[0][2:] == (5, 4) and len(results[0][0]) == 4


def test_a_first_apply_takes_over_what_an_ingest_wrote_for_the_same_period(database_path, families, server):
    # The batch brought A's November desil before the publication: the publication's rows replace it, one
    # ranking and one change per family and period.
    a = families["A"]
    DesilRanking.objects.create(family=a, period=NOVEMBER, desil=9, score=Decimal("35.0"), source="batch")
    DesilChange.objects.create(family=a, village_id=a.village_id, period=NOVEMBER, old_desil=None, new_desil=9,
                               new_score=Decimal("35.0"), movement=DesilChange.Movement.WITHIN)
    publish_and_apply(server, NOVEMBER, november_rows(families))
    assert list(DesilRanking.objects.filter(family=a).values_list("period", "desil", "score")) == [
        (date(2026, 11, 20), 6, Decimal("21.250"))]
    assert changes(NOVEMBER)["DT-A"] == (None, 6, None, Decimal("21.250"), "within")
    assert DesilRanking.objects.filter(period=NOVEMBER).count() == 5
    a.refresh_from_db()
    assert a.desil == 6


@pytest.mark.parametrize("repeated", ["DT-B", "DT-Y"])
def test_a_replaced_publication_that_ranks_a_family_twice_is_refused_whole(database_path, families, server,
                                                                           repeated):
    publish_and_apply(server, NOVEMBER, november_rows(families))
    before = snapshot()
    publication = publish(server, NOVEMBER, [*november_rows(families), {"central_id": repeated, "desil": 7}])
    with pytest.raises(BatchRejected, match=f"1 .*{repeated}"):
        apply_publication(publication=publication, client=server)
    assert snapshot() == before
