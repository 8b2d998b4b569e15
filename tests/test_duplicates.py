"""The duplicate finder sees through the ways Indonesian names and birth dates are written, flags no one who
merely shares a birth date or a first name, and its regency-wide scan finds injected duplicates."""
import datetime as dt

import pytest
from django.db import connection

from registry import duplicates
from registry.models import Family, Member
from registry.synthetic import generate_households, inject_duplicates

from .factories import VILLAGE, VILLAGE_OTHER_KECAMATAN, VILLAGE_SAME_KECAMATAN, FamilyFactory, MemberFactory, village

pytestmark = pytest.mark.django_db
BORN = dt.date(1975, 3, 9)


def key(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT registry_name_key(%s)", [name])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("registered", "typed"), [
    ("Muhammad Rizky Siregar", "M. Rizky Siregar"),
    ("Muhammad Rizky Siregar", "Muhamad Rizki Siregar"),
    ("Muhammad Rizky Siregar", "Moh. Rizky Siregar"),
    ("Muhammad Rizky Siregar", "Mochammad Rizky Siregar"),
    ("Siti Nurhaliza", "Siti Nur Haliza"),
    ("Siti Nurhaliza", "Sitti Nurhaliza"),
    ("Umar Bakri", "Oemar Bakrie"),
    ("Joko Cahyono", "Djoko Tjahjono"),
    ("Syahrul Nasution", "Sjahrul Nasution"),
    ("Ahmad Yusuf", "H. Ahmad Yusuf"),
    ("Siti Aisyah", "Hj. Siti Aisyah"),
    ("Bambang Sutrisno", "Drs. Bambang Sutrisno, M.Si."),
    ("Fatimah Lubis", "Fatima Lubis"),
    ("Hendra Saputra Harahap", "Hendra Saputra"),  # the marga left out
    ("Teguh Santoso", "Teguhh Santoso"),
])
def test_each_way_of_writing_a_name_finds_the_registered_person(registered, typed):
    person = MemberFactory(name=registered, birth_date=BORN)
    [match] = duplicates.person_candidates([(typed, BORN)])
    assert match.member_id == person.pk and match.family_id == person.family_id
    assert match.likelihood >= duplicates.PERSON_MIN


@pytest.mark.parametrize(("typed_born", "reason"), [
    (BORN, "date_same"),
    (dt.date(1975, 9, 3), "date_swapped"),
    (dt.date(1976, 3, 9), "date_year"),
    (dt.date(1974, 3, 9), "date_year"),
])
def test_a_birth_date_swapped_or_a_year_off_still_matches(typed_born, reason):
    MemberFactory(name="Rahmat Hidayat", birth_date=BORN)
    [match] = duplicates.person_candidates([("Rahmat Hidayat", typed_born)])
    assert reason in match.reasons


@pytest.mark.parametrize(("typed", "typed_born"), [
    ("Bambang Pratama", BORN),  # the same birth date, another person
    ("Rahmat Hidayat", dt.date(1975, 3, 10)),  # the same name, born on another day
    ("Rahmat Hidayat", dt.date(1977, 3, 9)),  # ... or two years apart
    ("Rahmawati", BORN),  # a name that begins alike
])
def test_someone_else_is_not_flagged(typed, typed_born):
    MemberFactory(name="Rahmat Hidayat", birth_date=BORN)
    assert duplicates.person_candidates([(typed, typed_born)]) == []


def test_the_key_folds_titles_spellings_and_muhammad():
    assert key("H. Muhamad Rizky, S.Pd.") == key("Muhammad Rizki") == "M RIZKI"
    assert key("Djoko Tjahjono") == key("Joko Cahyono")
    assert key("Ma'ruf Amin") == "MARUF AMIN"
    assert key("Siti Nur Haliza").replace(" ", "") == key("Siti Nurhaliza").replace(" ", "")


def test_the_key_is_kept_for_rows_written_by_copy_too():
    """The key is an expression of the index, not a column a write path could forget: a COPY (the central
    ingest's path) is found like an ORM save."""
    family = FamilyFactory()
    with connection.cursor() as cursor:
        cursor.copy_expert("COPY registry_member (family_id, nik, name, sex, birth_place, birth_date, relationship, "
                           "education, occupation, disability, life_status, updated_at) FROM STDIN WITH (FORMAT csv)",
                           _csv([family.pk, "1209081903750001", "Moehammad Joesoef", "L", "Kisaran", BORN.isoformat(),
                                 "head", "sd", "Petani", "none", "present", "2026-01-01T00:00:00Z"]))
    [match] = duplicates.person_candidates([("Muhammad Yusuf", BORN)])
    assert match.family_id == family.pk


def _csv(row):
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    buffer.seek(0)
    return buffer


def _write(families):
    for f in families:
        family = Family.objects.create(kk_number=f.kk_number, central_id=f.central_id, village=village(f.village_code),
                                       dusun=f.dusun, rt=f.rt, rw=f.rw, address=f.address)
        Member.objects.bulk_create([Member(family=family, nik=m.nik, name=m.name, sex=m.sex,
                                           birth_place=m.birth_place, birth_date=m.birth_date,
                                           relationship=m.relationship, life_status=m.life_status)
                                    for m in f.members])


def test_the_regency_scan_finds_the_injected_duplicates_and_little_else():
    villages = [(VILLAGE, "Meranti"), (VILLAGE_SAME_KECAMATAN, "Sei Balai"), (VILLAGE_OTHER_KECAMATAN, "Air Joman")]
    families = generate_households(villages, 600, 7, as_of=dt.date(2026, 11, 23), periods=1)
    copies, truth = inject_duplicates(families, 0.05, 7)
    _write(families + copies)
    ids = dict(Family.objects.values_list("central_id", "id"))
    injected = {tuple(sorted((ids[a], ids[b]))) for a, b in truth}
    steps = []
    pairs = duplicates.regency_scan("12.09", progress=steps.append)
    found = {(p.family_a, p.family_b) for p in pairs}
    assert len(injected) == 30
    # A copy moved to another village, alone on its card and respelled has nothing to back it up: at this small
    # size one or two such are a larger share than at the bench's (where recall must be 95%).
    assert len(found & injected) >= 0.9 * len(injected)
    assert len(found - injected) <= 0.05 * len(found)
    assert steps[-1] == 100 and steps == sorted(steps) and len(steps) == 13
    assert all(0 < p.likelihood <= 1 and p.reasons for p in pairs)
    assert pairs == sorted(pairs, key=lambda p: -p.likelihood)


def test_the_scan_keeps_to_the_region_it_is_given():
    for code in (VILLAGE, "12.72.01.1001"):
        MemberFactory(family=FamilyFactory(village=village(code)), name="Sutrisno Damanik", birth_date=BORN)
    assert duplicates.regency_scan("12.09") == []

