"""The regency's counts (round tallies, families per village and desil, living members per village) stay
exact after every kind of write: services, bulk updates, imports, ingest-like bulk SQL, deletes, TRUNCATE."""
import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse

from accounts.models import Role
from registry.models import Family, Member
from verification import services, tallies
from verification.models import RoundFamily, RoundState, VerificationRound

from ..factories import (
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    VILLAGE_SAME_KECAMATAN,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    client_for,
    round_with_families,
    submitted_round,
    village,
)

pytestmark = pytest.mark.django_db

RECOUNT = {
    "rounds": "SELECT round_id, count(*), count(*) FILTER (WHERE decision <> ''), "
              "count(*) FILTER (WHERE decision = 'eligible'), count(*) FILTER (WHERE decision = 'not_eligible'), "
              "count(*) FILTER (WHERE decision = 'corrected'), count(*) FILTER (WHERE is_proposal), "
              "count(*) FILTER (WHERE flagged) FROM verification_roundfamily GROUP BY 1",
    "families": "SELECT village_id, coalesce(desil, 0), count(*) FROM registry_family GROUP BY 1, 2",
    "living": "SELECT f.village_id, count(*) FROM registry_member m JOIN registry_family f ON f.id = m.family_id "
              "WHERE m.life_status = 'present' GROUP BY 1",
}
STORED = {
    "rounds": "SELECT round_id, total, decided, eligible, not_eligible, corrected, proposals, flagged "
              "FROM verification_roundtally WHERE total <> 0 OR decided <> 0 OR proposals <> 0 OR flagged <> 0",
    "families": "SELECT village_id, desil, families FROM verification_villagedesiltally WHERE families <> 0",
    "living": "SELECT village_id, living FROM verification_villagemembertally WHERE living <> 0",
}


def _rows(sql: str) -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return set(cursor.fetchall())


def assert_exact():
    for name in RECOUNT:
        assert _rows(STORED[name]) == _rows(RECOUNT[name]), name
    # The round list's order keys are the family's own.
    assert not _rows("SELECT rf.id FROM verification_roundfamily rf JOIN registry_family f ON f.id = rf.family_id "
                     "WHERE (rf.family_dusun, rf.family_kk) IS DISTINCT FROM (f.dusun, f.kk_number)")
    # ... and so are the names the round list searches.
    assert not _rows("SELECT rf.id FROM verification_roundfamily rf WHERE rf.family_names IS DISTINCT FROM "
                     "(SELECT coalesce(string_agg(name, chr(10) ORDER BY id), '') FROM registry_member "
                     " WHERE family_id = rf.family_id)")


@pytest.fixture
def operator():
    return UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id=REGENCY)


def test_the_database_keeps_the_tallies():
    assert tallies.kept()


def test_decisions_one_at_a_time_in_bulk_and_imported_keep_round_counts_exact(operator):
    round_ = round_with_families(6)
    entries = list(round_.entries.order_by("pk").select_related("family"))
    assert_exact()
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entries[0].pk, decision="not_eligible",
                          reason="well_off", expected_version=1)
    services.entries_decide_bulk(actor=operator, round_id=round_.pk, versions={e.pk: 1 for e in entries[1:3]},
                                 decision="eligible")
    services.entries_import_decisions(actor=operator, round_id=round_.pk, rows=[
        {"kk_number": entries[3].family.kk_number, "decision": "eligible"},
        {"kk_number": entries[0].family.kk_number, "decision": "eligible"}])  # a decision changed
    assert_exact()
    progress = services.round_progress(round_)
    assert progress == {"total": 6, "decided": 4, "by_decision": {"": 2, "eligible": 4}}


def test_flags_proposals_and_state_changes_keep_round_counts_exact(operator):
    round_, entries = submitted_round(n=4)
    RoundFamily.objects.filter(pk__in=[entries[0].pk, entries[1].pk]).update(flagged=True)
    RoundFamily.objects.filter(pk=entries[2].pk).update(is_proposal=True, decision="corrected")
    services.round_return(actor=UserFactory(role=Role.DINSOS, area_id=REGENCY), round_id=round_.pk, note="Cek")
    assert_exact()
    listed = tallies.with_round_counts(VerificationRound.objects.filter(pk=round_.pk)).get()
    assert (listed.total, listed.decided, listed.flagged, listed.proposals) == (4, 4, 2, 1)


def test_ingest_like_bulk_sql_inserts_and_deletes_keep_every_tally_exact():
    round_ = round_with_families(2)
    template = round_.entries.first().family
    with connection.cursor() as cursor:
        # The central ingest's way: set-based INSERT ... SELECT of many families, members and entries.
        overrides = {"kk_number": "'1209' || lpad(g::text, 12, '0')", "central_id": "'C' || g",
                     "dusun": "'Dusun II'", "desil": "CASE WHEN g %% 3 = 0 THEN NULL ELSE 1 + g %% 10 END"}
        columns = [f.column for f in Family._meta.concrete_fields if f.column != "id"]
        cursor.execute(
            f"INSERT INTO registry_family ({', '.join(columns)}) SELECT "  # noqa: S608 - the model's columns
            f"{', '.join(overrides.get(c, 't.' + c) for c in columns)} "
            "FROM registry_family t CROSS JOIN generate_series(1, 300) g WHERE t.id = %s", [template.pk])
        cursor.execute(
            "INSERT INTO registry_member (family_id, nik, name, sex, birth_place, birth_date, relationship, "
            "education, occupation, disability, life_status, updated_at) "
            "SELECT f.id, '120908' || lpad((f.id * 10 + k)::text, 10, '0'), 'Warga', 'L', '', '1980-01-01', "
            "CASE WHEN k = 1 THEN 'head' ELSE 'child' END, '', '', '', CASE WHEN k = 3 THEN 'deceased' ELSE "
            "'present' END, now() FROM registry_family f CROSS JOIN generate_series(1, 3) k "
            "WHERE f.dusun = 'Dusun II'")
        cursor.execute(
            "INSERT INTO verification_roundfamily (round_id, family_id, decision, reason, note, evidence, "
            "is_proposal, return_note, version, flagged, centre_outcome, centre_reason) "
            "SELECT %s, id, CASE WHEN id %% 2 = 0 THEN 'eligible' ELSE '' END, '', '', '', false, '', 1, "
            "id %% 7 = 0, '', '' FROM registry_family WHERE dusun = 'Dusun II'", [round_.pk])
        assert_exact()
        # A desil publication (every family re-ranked), a move to another village, a life event.
        cursor.execute("UPDATE registry_family SET desil = 1 + (coalesce(desil, 0) + 3) % 10")
        cursor.execute("UPDATE registry_family SET village_id = %s WHERE id IN "
                       "(SELECT id FROM registry_family WHERE dusun = 'Dusun II' ORDER BY id LIMIT 40)",
                       [VILLAGE_OTHER_KECAMATAN])
        cursor.execute("UPDATE registry_member SET life_status = 'moved' WHERE id % 5 = 0")
        cursor.execute("UPDATE registry_member SET name = 'Warga Baru'")  # nothing counted changes
        assert_exact()
        # Bulk changes of the list's keys and of who belongs to which family, beside rows that stay as they were.
        cursor.execute("UPDATE registry_family SET dusun = CASE WHEN id % 6 = 0 THEN 'Dusun III' ELSE dusun END")
        cursor.execute("UPDATE registry_member SET family_id = family_id + 1, name = 'Pindah' WHERE id % 11 = 0 "
                       "AND family_id + 1 IN (SELECT id FROM registry_family)")
        cursor.execute("UPDATE registry_member SET name = CASE WHEN id % 2 = 0 THEN name ELSE 'Ganti' END")
        assert _rows("SELECT count(*) FROM verification_roundfamily WHERE family_dusun = 'Dusun III'") != {(0,)}
        assert_exact()
        # Deletes: entries, then members and families in either order (foreign keys are checked at commit).
        cursor.execute("DELETE FROM verification_roundfamily WHERE id % 3 = 0")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("DELETE FROM verification_roundfamily WHERE family_id IN (SELECT id FROM registry_family "
                       "WHERE id % 4 = 0)")
        cursor.execute("DELETE FROM registry_family WHERE id % 4 = 0")
        cursor.execute("DELETE FROM registry_member WHERE family_id NOT IN (SELECT id FROM registry_family)")
        assert_exact()
        # Members written before their family (deferred foreign key), as a loader may do.
        cursor.execute("SELECT max(id) + 1, min(id) FROM registry_family")
        # The template above may have gone with the deletes (its id depends on the sequence): copy a survivor.
        new_id, survivor = cursor.fetchone()
        cursor.execute("INSERT INTO registry_member (family_id, nik, name, sex, birth_place, birth_date, "
                       "relationship, education, occupation, disability, life_status, updated_at) VALUES "
                       "(%s, '1209089999990001', 'Dulu', 'L', '', '1980-01-01', 'head', '', '', '', 'present', now())",
                       [new_id])
        cursor.execute(
            f"INSERT INTO registry_family (id, {', '.join(columns)}) SELECT %s, "  # noqa: S608 - the model's columns
            f"{', '.join(overrides.get(c, 't.' + c) for c in columns)} "
            "FROM registry_family t CROSS JOIN generate_series(999, 999) g WHERE t.id = %s", [new_id, survivor])
        assert cursor.rowcount == 1
        assert_exact()


def test_orm_deletes_of_families_and_rounds_keep_tallies_exact(operator):
    round_ = round_with_families(3)
    other = round_with_families(2, code=VILLAGE_SAME_KECAMATAN)
    other_pk = other.pk
    entry = round_.entries.order_by("pk").first()
    family = entry.family
    entry.delete()
    family.delete()  # its members go first, then the family
    other.delete()  # its entries go first, then the round and its tally
    assert_exact()
    assert not _rows(f"SELECT 1 FROM verification_roundtally WHERE round_id = {int(other_pk)}")  # noqa: S608


def test_member_services_keep_the_living_count_exact(operator):
    round_ = round_with_families(1)
    entry = round_.entries.get()
    head = entry.family.members.get()
    services.member_add(actor=operator, round_id=round_.pk, entry_id=entry.pk, expected_version=1, data={
        "nik": "1209085005100001", "name": "Bayi", "sex": "P", "birth_date": dt.date(2010, 5, 10),
        "relationship": Member.Relationship.CHILD})
    services.member_update(actor=operator, round_id=round_.pk, entry_id=entry.pk, member_id=head.pk,
                           changes={"life_status": Member.LifeStatus.DECEASED,
                                    "life_event_date": dt.date(2026, 10, 1)}, expected_version=None)
    assert_exact()
    services.member_update(actor=operator, round_id=round_.pk, entry_id=entry.pk, member_id=head.pk,
                           changes={"name": "Sutrisno Wibowo"}, expected_version=None)
    assert_exact()
    client = client_for(operator)
    found = client.get(reverse("round-detail", args=[round_.pk]), {"q": "trisno wib"}).context["page"]
    assert [e.pk for e in found.object_list] == [entry.pk]
    assert not client.get(reverse("round-detail", args=[round_.pk]), {"q": "Bayi Sutrisno"}).context["page"].object_list
    Member.objects.filter(pk=head.pk).delete()
    assert_exact()


def test_a_corrected_dusun_reorders_the_round_list_even_when_a_stale_entry_is_saved_afterwards(operator):
    round_ = round_with_families(2)
    entry = round_.entries.select_related("family").order_by("pk").first()
    services.family_correct(actor=operator, round_id=round_.pk, entry_id=entry.pk, changes={"dusun": "Dusun IX"},
                            expected_version=1)
    entry.note = "stale object"
    entry.save()  # carries the old dusun: the database keeps the family's
    assert RoundFamily.objects.get(pk=entry.pk).family_dusun == "Dusun IX"
    Family.objects.filter(pk=entry.family_id).update(kk_number="1209081501200999")
    assert RoundFamily.objects.get(pk=entry.pk).family_kk == "1209081501200999"
    assert_exact()


def test_truncate_empties_the_tallies():
    round_with_families(2)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own transaction has checks pending
        cursor.execute("TRUNCATE registry_family, registry_member, verification_roundfamily CASCADE")
    assert not _rows("SELECT 1 FROM verification_roundtally UNION ALL SELECT 1 FROM verification_villagedesiltally "
                     "UNION ALL SELECT 1 FROM verification_villagemembertally")


def test_dinsos_home_shows_the_exact_counts_in_a_fixed_number_of_queries(dinsos, django_assert_num_queries):
    client = client_for(dinsos)
    client.get("/")  # warm the session
    for size in (1, 5):
        round_with_families(size)
        FamilyFactory(village=village(VILLAGE_OTHER_KECAMATAN), desil=None)
        MemberFactory(family=FamilyFactory(village=village(VILLAGE_SAME_KECAMATAN), desil=7),
                      life_status=Member.LifeStatus.MOVED)
        # session, user, area; reports waiting, payments; desil tally, member tally, breakdown tally, region
        # names; dashboard: per kecamatan, names, waiting rounds, ground-check coverage; next steps: how many
        # rounds wait for review
        with django_assert_num_queries(14):
            response = client.get("/")
        summary = response.context["summary"]
        families = Family.objects.filter(village__pk__startswith=REGENCY + ".")
        assert summary["families"] == families.count()
        assert summary["members"] == Member.objects.filter(family__in=families, life_status="present").count()
        assert summary["unranked"] == families.filter(desil__isnull=True).count()
        assert summary["families_desil_1_4"] == families.filter(desil__lte=4).count()
        assert sum(row.families for row in response.context["breakdown"]) == families.count()
        per_kecamatan = response.context["dashboard"]["per_kecamatan"]
        assert sum(row["total"] for row in per_kecamatan) == RoundFamily.objects.count()


def test_regency_rounds_list_runs_a_fixed_number_of_queries(dinsos, django_assert_num_queries):
    client = client_for(dinsos)
    client.get(reverse("round-list"))
    for code in (VILLAGE, VILLAGE_SAME_KECAMATAN, VILLAGE_OTHER_KECAMATAN):
        round_with_families(2, code=code, state=RoundState.OPEN)
        # session, user, area (header), the filter's kecamatan, how many rounds, the page with their counts
        with django_assert_num_queries(6):
            response = client.get(reverse("round-list"))
        assert response.status_code == 200
    assert {(r.total, r.decided) for r in response.context["rounds"]} == {(2, 0)}


def test_regency_rounds_list_pages_and_the_review_queue_shows_submitted_rounds(dinsos, monkeypatch):
    from verification import views

    monkeypatch.setattr(views, "ROUNDS_PER_PAGE", 2)
    submitted, _entries = submitted_round(code=VILLAGE_SAME_KECAMATAN, n=2)
    for _ in range(3):
        round_with_families(1)
    client = client_for(dinsos)
    pages = [client.get(reverse("round-list"), {"page": n}).context["rounds"] for n in (1, 2)]
    assert len({r.pk for page in pages for r in page}) == 4
    queue = client.get(reverse("round-list"), {"state": "submitted"}).context["rounds"]
    assert [(r.pk, r.total, r.decided) for r in queue] == [(submitted.pk, 2, 2)]
