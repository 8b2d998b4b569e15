"""A transparent proxy-means test (PMT) over the Regsosek housing and asset variables.

This is the demo's and the mock central's own formula, not BPS's: the weights live in this one table so
anyone can read why a family ranks where it does (as OpenSPP's PMT module keeps them). A higher score
means better off; ``rank_deciles`` splits a population into ten equal groups like SQL's ``ntile(10)``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

# variable -> coded value -> points. Unknown or blank values score 0.
PMT_WEIGHTS: dict[str, dict[str, float]] = {
    "floor_type": {"marble": 3.0, "ceramic": 2.5, "parquet": 2.0, "tile": 1.5, "wood": 0.8, "cement": 0.8,
                   "bamboo": 0.2, "earth": 0.0, "other": 0.3},
    "wall_type": {"brick": 2.5, "plastered_bamboo": 1.2, "wood": 1.0, "woven_bamboo": 0.2, "log": 0.4,
                  "bamboo": 0.1, "other": 0.3},
    "roof_type": {"concrete": 2.0, "clay_tile": 1.5, "zinc": 1.0, "wood": 0.6, "bamboo": 0.2, "thatch": 0.0,
                  "other": 0.3},
    "water_source": {"bottled": 2.0, "refill": 1.5, "piped": 1.5, "borehole": 1.2, "protected_well": 0.8,
                     "protected_spring": 0.7, "unprotected_well": 0.2, "unprotected_spring": 0.2,
                     "surface": 0.0, "rain": 0.3, "other": 0.2},
    "lighting": {"pln_metered": 2.0, "pln_unmetered": 0.8, "non_pln": 0.4, "none": 0.0},
    "cooking_fuel": {"electric": 2.0, "lpg_large": 2.0, "city_gas": 1.8, "lpg_3kg": 1.2, "kerosene": 0.6,
                     "briquette": 0.4, "charcoal": 0.2, "firewood": 0.0, "none": 0.5},
    "toilet": {"own": 1.5, "shared": 0.6, "public": 0.3, "none": 0.0},
    "house_ownership": {"own": 1.0, "official": 0.8, "rent": 0.5, "rent_free": 0.2, "other": 0.2},
    "has_lpg_large": {True: 0.8},
    "has_refrigerator": {True: 1.2},
    "has_air_conditioner": {True: 2.0},
    "has_water_heater": {True: 1.5},
    "has_flat_tv": {True: 1.0},
    "has_gold": {True: 1.0},
    "has_computer": {True: 1.5},
    "has_motorcycle": {True: 0.8},
    "has_car": {True: 3.0},
    "has_boat": {True: 0.8},
    "has_land": {True: 1.2},
    "has_livestock": {True: 0.6},
}
# Points per m² of floor area per person, capped: crowding is a strong poverty marker.
FLOOR_AREA_PER_PERSON_WEIGHT = 0.08
FLOOR_AREA_PER_PERSON_CAP = 30
# Each person beyond the fourth dilutes the household's means.
HOUSEHOLD_SIZE_PENALTY = 0.4


def pmt_score(attrs: Mapping, household_size: int) -> float:
    """The PMT score of one family from its coded variables and the number of members living there."""
    score = sum(table.get(attrs.get(variable), 0.0) for variable, table in PMT_WEIGHTS.items())
    area = attrs.get("floor_area_m2") or 0
    per_person = min(area / max(household_size, 1), FLOOR_AREA_PER_PERSON_CAP)
    score += per_person * FLOOR_AREA_PER_PERSON_WEIGHT
    score -= max(household_size - 4, 0) * HOUSEHOLD_SIZE_PENALTY
    return round(score, 3)


def rank_deciles(scores: Sequence[float]) -> list[int]:
    """Desil 1 (poorest) to 10 for each score, in input order: ten groups as equal as possible."""
    n = len(scores)
    order = sorted(range(n), key=lambda i: (scores[i], i))
    deciles = [0] * n
    for position, index in enumerate(order):
        deciles[index] = position * 10 // n + 1
    return deciles
