"""The synthetic population: deterministic, valid identifiers, plausible families, desil that follows the house."""
import datetime as dt
import statistics
from collections import Counter

import pytest

from registry.pmt import pmt_score, rank_deciles
from registry.synthetic import generate_households, publication_periods
from registry.validators import parse_kk, parse_nik

AS_OF = dt.date(2026, 11, 23)
VILLAGES = [("12.09.08.2002", "MERANTI"), ("12.09.08.2004", "PERKEBUNAN SEI BALAI"),
            ("12.09.09.2002", "AIR JOMAN")]
KECAMATAN = {"12.09.08", "12.09.09"}


@pytest.fixture(scope="module")
def population():
    return generate_households(VILLAGES, 2000, 7, as_of=AS_OF)


def test_same_seed_gives_the_same_population_and_another_seed_does_not(population):
    again = generate_households(VILLAGES, 2000, 7, as_of=AS_OF)
    assert [f.as_json() for f in again] == [f.as_json() for f in population]
    other = generate_households(VILLAGES, 2000, 8, as_of=AS_OF)
    assert [f.kk_number for f in other] != [f.kk_number for f in population]


def test_every_nik_and_kk_is_valid_for_its_village_and_birth_date(population):
    seen = set()
    for family in population:
        code, issued, _serial = parse_kk(family.kk_number, known_kecamatan=KECAMATAN.__contains__, today=AS_OF)
        assert code == family.village_code[:8] and issued <= AS_OF
        for member in family.members:
            parts = parse_nik(member.nik, known_kecamatan=KECAMATAN.__contains__, today=AS_OF)
            assert parts.kecamatan_code == family.village_code[:8]
            assert (parts.birth_date, parts.sex) == (member.birth_date, member.sex)
            if member.sex == "P":
                assert int(member.nik[6:8]) == member.birth_date.day + 40
            seen.add(member.nik)
    assert len(seen) == sum(len(f.members) for f in population), "NIKs must be unique"
    assert len({f.kk_number for f in population}) == len(population)


def test_families_are_plausible(population):
    sizes = [len(f.members) for f in population]
    assert 3.2 <= statistics.mean(sizes) <= 4.6
    assert min(sizes) == 1 and max(sizes) <= 9
    for family in population:
        heads = [m for m in family.members if m.relationship == "head"]
        assert len(heads) == 1
        head_age = (AS_OF - heads[0].birth_date).days // 365
        for child in (m for m in family.members if m.relationship == "child"):
            assert (AS_OF - child.birth_date).days // 365 <= head_age - 15
    names = {m.name.split()[0] for f in population for m in f.members}
    assert {"Siti", "Ahmad"} <= names


def test_desil_is_spread_evenly_and_follows_housing_and_assets(population):
    by_desil = {d: [f for f in population if f.desil == d] for d in range(1, 11)}
    assert all(len(group) == 200 for group in by_desil.values())

    def share(group, test):
        return sum(1 for f in group if test(f)) / len(group)

    def earth_floor(f):
        return f.attrs["floor_type"] in ("earth", "bamboo")

    def has_car(f):
        return f.attrs["has_car"]

    assert share(by_desil[1], earth_floor) > 3 * share(by_desil[10], earth_floor) + 0.1
    assert share(by_desil[10], has_car) > 3 * share(by_desil[1], has_car) + 0.1
    assert statistics.mean(f.attrs["floor_area_m2"] for f in by_desil[10]) > \
        1.5 * statistics.mean(f.attrs["floor_area_m2"] for f in by_desil[1])


def test_desil_history_has_one_ranking_per_monthly_publication_on_the_20th(population):
    assert publication_periods(AS_OF, 3) == [dt.date(2026, 9, 20), dt.date(2026, 10, 20), dt.date(2026, 11, 20)]
    assert publication_periods(dt.date(2026, 1, 5), 2) == [dt.date(2025, 11, 20), dt.date(2025, 12, 20)]
    family = population[0]
    assert [p for p, _d, _s in family.desil_history] == publication_periods(AS_OF, 3)
    assert family.desil_history[-1][1] == family.desil


def test_pmt_ranks_a_better_house_higher_and_deciles_are_equal_groups():
    poor = {"floor_type": "earth", "wall_type": "bamboo", "roof_type": "thatch", "floor_area_m2": 20}
    better = {**poor, "floor_type": "ceramic", "has_refrigerator": True}
    assert pmt_score(better, 4) > pmt_score(poor, 4)
    assert pmt_score(poor, 8) < pmt_score(poor, 3)
    assert rank_deciles([5.0, 1.0, 3.0, 2.0, 4.0, 9.0, 8.0, 7.0, 6.0, 10.0]) == [5, 1, 3, 2, 4, 9, 8, 7, 6, 10]
    groups = Counter(rank_deciles([float(x % 7) for x in range(25)]))
    assert set(groups) == set(range(1, 11)) and max(groups.values()) - min(groups.values()) <= 1
