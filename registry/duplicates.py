"""The duplicate finder: people and families in the register written differently but likely the same.

Names are compared by their key (``registry_name_key``, migration 0006: titles, Muhammad/M., old spellings and
doubled letters folded), by pg_trgm similarity of the keys without spaces ("Nurhaliza" / "Nur Haliza"), or as
the same words with the last ones missing (a missing marga). Birth dates match when equal, with day and month
swapped, or a year apart with the same day and month.

Two uses, both set-based in PostgreSQL:

- ``person_candidates``: the members of the register who may be the people of an usulan (read by birth date
  through the index ``member_birth_name_key``), for the check when an usulan is entered;
- ``regency_scan``: every likely pair of families of a regency, compared through their heads, blocked on the
  birth date's day and month (sorted, so a swap stays in its block), the first letter of the name key and the
  birth year (±1): one SQL pass per block of day/month, never a loop over pairs in Python. Another member
  alike (a wife, a child) and the same RT back a pair up. Each pair has a likelihood (0-1) and its reasons.

PostgreSQL only (the key is a PostgreSQL function); on SQLite both return nothing.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.utils.translation import gettext_lazy as _

# A pair of names is compared further only from this similarity of their keys (pg_trgm, 0-1).
NAME_MIN = 0.5
# A regency scan reports pairs from this likelihood; an usulan's candidates from PERSON_MIN. In a regency of a
# million families the same name and birth date in one village happen by chance (0.55 with nothing else
# alike); a pair needs the RT or another member alike as well to be reported.
PAIR_MIN = 0.6
PERSON_MIN = 0.5
# Two people of two families alike are taken for one person (when families are merged, or shown side by side)
# from this similarity of their names on, with the same sex and a birth date within the tolerance.
SAME_PERSON_NAME = 0.75
DATE_FACTOR = {"same": 1.0, "swapped": 0.9, "year": 0.95, "swapped_year": 0.8}

REASONS = {
    "name_same": _("the same name as written differently (titles, spelling, Muhammad/M.)"),
    "name_similar": _("a similar name"),
    "name_missing_word": _("the same name with a word (a marga) missing"),
    "date_same": _("the same date of birth"),
    "date_swapped": _("the date of birth with day and month swapped"),
    "date_year": _("the date of birth a year apart"),
    "date_swapped_year": _("the date of birth swapped and a year apart"),
    "member": _("another member of both families alike (name and date of birth)"),
    "same_village": _("the same village"),
    "same_rt": _("the same dusun, RW and RT"),
}

_MISSING_WORD = """({b} LIKE {a} || ' %%' OR {a} LIKE {b} || ' %%'
  OR replace(regexp_replace({b}, ' [A-Z]+$', ''), ' ', '') = replace({a}, ' ', '')
  OR replace(regexp_replace({a}, ' [A-Z]+$', ''), ' ', '') = replace({b}, ' ', ''))"""
# Name similarity of two keys a, b (SQL): 1 for the same key; 0.9 when one is the other with its last word (a
# marga) missing, the words split as they may be ("Suh Endra" / "Suhendra Simanjuntak"); else the trigram
# similarity of the keys without spaces ("Nur Haliza" / "Nurhaliza").
_NAME_SCORE = """CASE WHEN {a} = {b} THEN 1.0
  WHEN """ + _MISSING_WORD + """ THEN 0.9
  ELSE similarity(replace({a}, ' ', ''), replace({b}, ' ', '')) END"""


def available() -> bool:
    return connection.vendor == "postgresql"


def name_reason(same_key: bool, prefix: bool) -> str:
    if same_key:
        return "name_same"
    return "name_missing_word" if prefix else "name_similar"


def date_kind(a: dt.date, b: dt.date) -> str | None:
    """How two birth dates match within the tolerance, or None."""
    if a == b:
        return "same"
    swapped = (a.day, a.month) == (b.month, b.day)
    if a.year == b.year and swapped:
        return "swapped"
    if abs(a.year - b.year) == 1:
        if (a.day, a.month) == (b.day, b.month):
            return "year"
        if swapped:
            return "swapped_year"
    return None


def _as_date(value) -> dt.date | None:
    """A date, or an ISO date string as an API caller may pass it; anything else is no date."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def date_variants(born: dt.date) -> list[dt.date]:
    """The dates a birth date may have been written as: itself, day and month swapped, a year either side."""
    found = {born}
    for year in (born.year - 1, born.year, born.year + 1):
        for month, day in ((born.month, born.day), (born.day, born.month)):
            with contextlib.suppress(ValueError):  # 29 February in another year, a day above 12 as a month
                found.add(dt.date(year, month, day))
    return sorted(found)


def alike_names(names_a: list[str], names_b: list[str], minimum: float) -> list[tuple[int, int, float]]:
    """(index in ``names_a``, index in ``names_b``, score) of the names alike from ``minimum`` on, most alike
    first: one query for two short lists (the people of two families)."""
    if not names_a or not names_b or not available():
        return []
    score = _NAME_SCORE.format(a="a.k", b="b.k")
    sql = f"""
        SELECT a.i, b.i, ns.s
        FROM (SELECT i - 1 AS i, registry_name_key(n) AS k FROM unnest(%s::text[]) WITH ORDINALITY x(n, i)) a
        CROSS JOIN (SELECT i - 1 AS i, registry_name_key(n) AS k FROM unnest(%s::text[]) WITH ORDINALITY x(n, i)) b
        CROSS JOIN LATERAL (SELECT {score} AS s) ns
        WHERE a.k <> '' AND ns.s >= %s ORDER BY ns.s DESC, a.i, b.i"""  # noqa: S608  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(names_a), list(names_b), minimum])
        return [(i, j, float(s)) for i, j, s in cursor.fetchall()]


@dataclass
class PersonMatch:
    typed: int  # index of the typed person
    family_id: int
    member_id: int
    village_id: str
    kk_number: str
    village_name: str
    name: str
    birth_date: dt.date
    likelihood: float
    reasons: list[str] = field(default_factory=list)


def person_candidates(people: list[tuple[str, dt.date]], *, limit: int = 20) -> list[PersonMatch]:
    """Members of the register who may be the typed ``people`` ((name, birth date) each; a date or an ISO
    string): one query, through
    the birth-date index, whatever is found. Best first, at most ``limit``."""
    people = [(name, _as_date(born)) for name, born in people]
    rows = [(i, name, d) for i, (name, born) in enumerate(people) if name and born for d in date_variants(born)]
    if not rows or not available():
        return []
    score = _NAME_SCORE.format(a="t.k", b="registry_name_key(m.name)")
    missing = _MISSING_WORD.format(a="t.k", b="registry_name_key(m.name)")
    # The f-string joins constant SQL fragments of this module; what the user typed goes in as parameters.
    sql = f"""
        SELECT t.i, m.family_id, m.id, f.village_id, f.kk_number, v.name, m.name, m.birth_date,
               t.k = registry_name_key(m.name), {missing}, {score}
        FROM (SELECT i, registry_name_key(n) AS k, d FROM unnest(%s::int[], %s::text[], %s::date[]) AS x(i, n, d)) t
        JOIN registry_member m ON m.birth_date = t.d
        JOIN registry_family f ON f.id = m.family_id
        JOIN registry_region v ON v.code = f.village_id
        WHERE t.k <> '' AND ({score}) >= %s"""  # noqa: S608  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], NAME_MIN])
        found = cursor.fetchall()
    matches = []
    for typed, family_id, member_id, village_id, kk_number, village_name, name, born, same_key, prefix, name_score \
            in found:
        kind = date_kind(people[typed][1], born)
        if kind is None:
            continue
        likelihood = round(float(name_score) * DATE_FACTOR[kind], 2)
        if likelihood < PERSON_MIN:
            continue
        matches.append(PersonMatch(typed, family_id, member_id, village_id, kk_number, village_name, name, born,
                                   likelihood,
                                   [name_reason(same_key, prefix), f"date_{kind}"]))
    matches.sort(key=lambda m: (-m.likelihood, m.family_id))
    return matches[:limit]


@dataclass(frozen=True)
class Pair:
    family_a: int
    family_b: int
    likelihood: float
    reasons: tuple[str, ...]


_HEADS = """
CREATE TEMP TABLE dup_heads AS
SELECT m.family_id, f.village_id, f.dusun, f.rw, f.rt, m.birth_date AS bd, k.k, left(k.k, 1) AS l,
       LEAST(extract(day FROM m.birth_date), extract(month FROM m.birth_date))::int AS lo,
       GREATEST(extract(day FROM m.birth_date), extract(month FROM m.birth_date))::int AS hi,
       extract(year FROM m.birth_date)::int AS y
FROM registry_member m
JOIN registry_family f ON f.id = m.family_id
CROSS JOIN LATERAL (SELECT registry_name_key(m.name) AS k) k
WHERE f.village_id LIKE %s AND m.relationship = 'head' AND k.k <> ''
"""

_MEMBER_ALIKE = f"""EXISTS (SELECT 1 FROM registry_member x JOIN registry_member z
                 ON z.family_id = {{b}} AND z.birth_date = x.birth_date AND z.relationship <> 'head'
               WHERE x.family_id = {{a}} AND x.relationship <> 'head'
                 AND ({_NAME_SCORE.format(a="registry_name_key(x.name)", b="registry_name_key(z.name)")}) >= %s)"""  # noqa: S608  # nosec B608

# One block of day/month: heads joined on (day/month sorted, first letter, year ±1), scored in SQL; for the
# pairs whose names are alike, whether another member of both families is alike too (same birth date).
_PAIRS = f"""
SELECT a.family_id, b.family_id, a.k = b.k, {_MISSING_WORD.format(a="a.k", b="b.k")}, ns.s,
       a.bd, b.bd, a.village_id = b.village_id,
       a.village_id = b.village_id AND a.dusun = b.dusun AND a.rw = b.rw AND a.rt = b.rt,
       {_MEMBER_ALIKE.format(a="a.family_id", b="b.family_id")}
FROM dup_heads a
CROSS JOIN (VALUES (-1), (0), (1)) d(d)
JOIN dup_heads b ON b.lo = a.lo AND b.hi = a.hi AND b.l = a.l AND b.y = a.y + d.d AND b.family_id > a.family_id
CROSS JOIN LATERAL (SELECT {_NAME_SCORE.format(a="a.k", b="b.k")} AS s) ns
WHERE a.lo = %s AND ns.s >= %s
"""  # noqa: S608  # nosec B608 - constant fragments of this module


def _scored(rows, minimum: float) -> list[Pair]:
    """Pairs from rows (family a, family b, same key, missing word, name score, birth dates a and b, same
    village, same RT, another member alike) at ``minimum`` likelihood or above."""
    pairs = []
    for a, b, same_key, prefix, name_score, bd_a, bd_b, village, rt, member in rows:
        kind = date_kind(bd_a, bd_b)
        if kind is None:
            continue
        # Alike names and dates alone happen by chance in a regency; another member alike, or the same RT, is
        # what makes two families one. The village alone adds little.
        evidence = min(1.0, 0.5 + 0.3 * member + 0.05 * village + 0.15 * rt)
        likelihood = round(float(name_score) * DATE_FACTOR[kind] * evidence, 3)
        if likelihood < minimum:
            continue
        reasons = [name_reason(same_key, prefix), f"date_{kind}"]
        reasons += [r for r, yes in (("member", member), ("same_village", village), ("same_rt", rt)) if yes]
        pairs.append(Pair(a, b, likelihood, tuple(reasons)))
    return pairs


# The heads of the given families, each with the birth dates its own may have been written as, looked up through
# the index on (birth date, name key) among the heads of the region's other families; a pair of two given
# families comes once (a before b).
_NEW_PAIRS = f"""
SELECT t.family_id, f.id, t.k = o.k, {_MISSING_WORD.format(a="t.k", b="o.k")}, ns.s, t.bd, m.birth_date,
       t.village_id = f.village_id,
       t.village_id = f.village_id AND t.dusun = f.dusun AND t.rw = f.rw AND t.rt = f.rt,
       {_MEMBER_ALIKE.format(a="t.family_id", b="f.id")}
FROM (SELECT x.family_id, x.d, h.birth_date AS bd, registry_name_key(h.name) AS k, g.village_id, g.dusun, g.rw,
             g.rt
      FROM unnest(%s::int[], %s::date[]) AS x(family_id, d)
      JOIN registry_member h ON h.family_id = x.family_id AND h.relationship = 'head'
      JOIN registry_family g ON g.id = x.family_id) t
JOIN registry_member m ON m.birth_date = t.d AND m.relationship = 'head'
JOIN registry_family f ON f.id = m.family_id AND f.village_id LIKE %s
CROSS JOIN LATERAL (SELECT registry_name_key(m.name) AS k) o
CROSS JOIN LATERAL (SELECT {_NAME_SCORE.format(a="t.k", b="o.k")} AS s) ns
WHERE t.k <> '' AND f.id <> t.family_id AND NOT (f.id = ANY(%s) AND f.id < t.family_id) AND ns.s >= %s
"""  # noqa: S608  # nosec B608 - constant fragments of this module


def likely_duplicates(family_ids: list[int], region_code: str, *, minimum: float = PAIR_MIN) -> list[Pair]:
    """Families of the region (a regency code) likely the same as one of ``family_ids`` (families a central
    batch just added): ``Pair.family_a`` is the given family, ``family_b`` the other. Driven from the given
    families through the birth-date index, so its cost follows their number, not the region's size."""
    if not family_ids or not available():
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT family_id, birth_date FROM registry_member WHERE family_id = ANY(%s) "
                       "AND relationship = 'head'", [list(family_ids)])
        probes = [(family_id, d) for family_id, born in cursor.fetchall() for d in date_variants(born)]
        if not probes:
            return []
        cursor.execute(_NEW_PAIRS, [NAME_MIN, [p[0] for p in probes], [p[1] for p in probes],
                                    region_code + ".%", list(family_ids), NAME_MIN])
        rows = cursor.fetchall()
    best: dict[tuple[int, int], Pair] = {}
    for pair in _scored(rows, minimum):
        key = (pair.family_a, pair.family_b)
        if key not in best or pair.likelihood > best[key].likelihood:
            best[key] = pair
    return sorted(best.values(), key=lambda p: (-p.likelihood, p.family_a, p.family_b))


def regency_scan(region_code: str, *, progress: Callable[[int], None] | None = None,
                 minimum: float = PAIR_MIN) -> list[Pair]:
    """Likely duplicate families of a region (a regency, or any region code), best first. ``progress`` is
    called with a percentage as the blocks are done (13 steps: the heads, then each day/month block)."""
    if not available():
        return []
    pairs: list[Pair] = []
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS dup_heads")
        cursor.execute(_HEADS, [region_code + ".%"])
        cursor.execute("CREATE INDEX ON dup_heads (lo, hi, l, y)")
        cursor.execute("ANALYZE dup_heads")
        if progress:
            progress(8)
        for lo in range(1, 13):
            cursor.execute(_PAIRS, [NAME_MIN, lo, NAME_MIN])
            pairs += _scored(cursor.fetchall(), minimum)
            if progress:
                progress(8 + round(92 * lo / 12))
        cursor.execute("DROP TABLE IF EXISTS dup_heads")
    pairs.sort(key=lambda p: (-p.likelihood, p.family_a, p.family_b))
    return pairs
