"""Applying the centre's monthly desil publication: every family's new desil, set-based.

Pages are stored as they arrive (a restart resumes), each with its rows checked and written as CSV for
PostgreSQL's COPY (decoded once, while the next page is on its way); the publication's checksum is checked
over all pages, then in one transaction and a few set-based statements:

- the change feed: per family ranked, its previous desil (latest ranking before this period) against the
  new one; a ``DesilChange`` where the desil changed or the family is ranked for the first time;
- the rankings themselves, and each family's current desil following its latest publication;
- the score range of each desil (``DesilThreshold``), so the portal can place its own estimate;
- the families the register does not hold (``UnmatchedRanking``): recorded and reported, not dropped;
- the publication's counters.

Applying the same publication again changes nothing; a publication the centre replaced is applied over
the earlier one (rows upserted, changes that no longer differ removed).
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, Q, When
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import DesilChange, DesilRanking, DesilThreshold, Family
from registry.services import desil_refresh_current

from .client import CentralClient
from .ingest import BatchRejected
from .models import DesilPublication, DownloadedPage, UnmatchedRanking
from .protocol import combined_checksum

AID_BAND_MAX_DESIL = 4  # desil 1-4: the band social assistance is paid to
REGION_CODE_RE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
CONTROL_CHARACTER_RE = re.compile(r"[\x00-\x1f\x7f]")  # in an id, a sign of a broken export
MAX_SCORE = 99999.999  # numeric(8, 3)
MAX_CENTRAL_ID = 32


@dataclass
class Applied:
    """What one publication did to the register."""

    ranked: int = 0
    changed: int = 0
    entered: int = 0
    left: int = 0
    unknown: int = 0


def _stored_pages(ref: str):
    return DownloadedPage.objects.filter(stream=DownloadedPage.Stream.DESIL, ref=ref)


def _publication_pages(publication: DesilPublication):
    """The pages stored for the publication as it stands (a replaced one may have had more)."""
    return _stored_pages(publication.period.isoformat()).filter(number__lte=publication.page_count)


def stored_page(*, ref: str, number: int, checksum: str, rows: list) -> DownloadedPage:
    """A page of a publication as it is kept: its rows as JSON and, when every row is good, as the CSV the
    apply copies in (a page with a bad row keeps no CSV: the apply reads its JSON to name the row)."""
    page = DownloadedPage.for_rows(stream=DownloadedPage.Stream.DESIL, ref=ref, number=number, checksum=checksum,
                                   rows=rows)
    if isinstance(rows, list) and not any(_row_problem(row) for row in rows):
        buffer = io.StringIO()
        csv.writer(buffer).writerows(_copy_row(row) for row in rows)
        page.staged = buffer.getvalue()
    return page


def _fetch_missing(publication: DesilPublication, client: CentralClient) -> list[str]:
    ref = publication.period.isoformat()
    have = set(_stored_pages(ref).values_list("number", flat=True))
    for number in range(1, publication.page_count + 1):
        if number not in have:
            page = client.desil_page(ref, number)
            stored_page(ref=ref, number=number, checksum=page["checksum"], rows=page["rows"]).save_once()
    return list(_publication_pages(publication).order_by("number").values_list("checksum", flat=True))


def _download(publication: DesilPublication, client: CentralClient) -> None:
    """Store every page of the publication (resuming), checked against the publication's checksum."""
    if combined_checksum(_fetch_missing(publication, client)) != publication.checksum:
        # The centre replaced the publication since these pages were stored: fetch it again, once.
        _stored_pages(publication.period.isoformat()).delete()
        if combined_checksum(_fetch_missing(publication, client)) != publication.checksum:
            raise BatchRejected(_("The downloaded pages do not add up to the publication checksum."))


def _stored_rows(publication: DesilPublication) -> list[dict]:
    return [row for body in _publication_pages(publication).order_by("number").values_list("body", flat=True)
            for row in json.loads(body)]


def _problem_messages() -> dict[str, str]:
    return {
        "object": _("a row is not an object"),
        "central_id": _("central_id must be a text of 1-%(n)d characters without control characters") % {
            "n": MAX_CENTRAL_ID},
        "desil": _("desil outside 1-10"),
        "score": _("score is not a number"),
        "village_code": _("village_code is not a region code"),
    }


def _row_problem(row) -> str:
    if not isinstance(row, dict):
        return "object"
    central_id = row.get("central_id")
    if (not isinstance(central_id, str) or not 1 <= len(central_id) <= MAX_CENTRAL_ID
            or CONTROL_CHARACTER_RE.search(central_id)):
        return "central_id"
    desil = row.get("desil")
    if isinstance(desil, bool) or not isinstance(desil, int) or not 1 <= desil <= 10:
        return "desil"
    score = row.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                              or not -MAX_SCORE <= score <= MAX_SCORE):
        return "score"
    village_code = row.get("village_code")  # protocol v2; absent in v1 publications
    if village_code not in (None, "") and not (isinstance(village_code, str)
                                               and REGION_CODE_RE.fullmatch(village_code)):
        return "village_code"
    return ""


def _copy_row(row: dict) -> tuple:
    return row["central_id"], row.get("village_code") or "", row["desil"], row.get("score")


def _refuse_repeated(count: int, first: str) -> None:
    raise BatchRejected(_("%(n)d families are ranked more than once, first: %(central_id)s") % {
        "n": count, "central_id": first})


class _RowCheck:
    """The rows of a publication checked as they pass: ``take(row)`` says whether the row may be written;
    ``refuse_if_any()`` then refuses the whole publication, naming the first bad row or (unless the database
    looks for them, ``repeats=False``) the first family ranked twice."""

    def __init__(self, *, repeats: bool = True):
        self.invalid, self.first, self.repeats, self.seen, self.repeated = 0, None, repeats, set(), set()

    def take(self, row) -> bool:
        if problem := _row_problem(row):
            self.invalid += 1
            self.first = self.first or (problem, str(row))
            return False
        if self.repeats:
            central_id = row["central_id"]
            (self.repeated if central_id in self.seen else self.seen).add(central_id)
        return not self.invalid and not self.repeated

    def refuse_if_any(self) -> None:
        if self.invalid:
            problem, row = self.first
            raise BatchRejected(_("%(n)d rows of the publication are invalid, first (%(problem)s): %(row)s") % {
                "n": self.invalid, "problem": _problem_messages()[problem], "row": row[:200]})
        if self.repeated:
            _refuse_repeated(len(self.repeated), min(self.repeated))


def _check_rows(rows: list) -> None:
    """Refuse a publication the register cannot take as a whole, naming the first bad row."""
    check = _RowCheck()
    for row in rows:
        check.take(row)
    check.refuse_if_any()


def apply_publication(*, publication: DesilPublication, client: CentralClient) -> int:
    """Download (resuming) and apply one publication; returns how many of the portal's families it ranked."""
    _download(publication, client)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            applied = _apply_postgresql(publication)
        else:
            rows = _stored_rows(publication)
            _check_rows(rows)
            applied = _apply_orm(publication, rows)
        DesilPublication.objects.filter(pk=publication.pk).update(
            state=DesilPublication.State.APPLIED, rows_applied=applied.ranked, changed_count=applied.changed,
            entered_count=applied.entered, left_count=applied.left, unknown_count=applied.unknown,
            applied_at=timezone.now(), last_error="")
    if connection.vendor == "postgresql":
        # A publication rewrites the desil of a large share of the register at once; pages planned on the
        # old statistics (desil filters, the change feed) would stay slow until autovacuum came round. Of
        # the family only its desil changed.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Family._meta.db_table} (desil), {DesilRanking._meta.db_table}, "
                           f"{DesilChange._meta.db_table}")
    return applied.ranked


def _counters(period, ranked: int) -> Applied:
    counts = DesilChange.objects.filter(period=period).aggregate(
        changed=Count("id"), entered=Count("id", filter=Q(movement=DesilChange.Movement.ENTERED)),
        left=Count("id", filter=Q(movement=DesilChange.Movement.LEFT)))
    return Applied(ranked=ranked, unknown=UnmatchedRanking.objects.filter(period=period).count(), **counts)


# -- PostgreSQL: COPY into a staging table, then a few statements over it ----------------------------------
MOVEMENT_SQL = (f"CASE WHEN new_desil <= {AID_BAND_MAX_DESIL} AND (old_desil IS NULL OR old_desil > "
                f"{AID_BAND_MAX_DESIL}) THEN 'entered' WHEN old_desil <= {AID_BAND_MAX_DESIL} AND new_desil > "
                f"{AID_BAND_MAX_DESIL} THEN 'left' ELSE 'within' END")
PAGES_PER_COPY = 50  # pages read, checked and copied at a time: memory stays that of 50 pages


def _stage(cursor, publication: DesilPublication, *, again: bool) -> None:
    """COPY the rows in a few pages at a time (the CSV each page was stored with; a page without one, because a
    row is bad or it was stored before pages kept one, is decoded and checked here), refuse the publication if
    any row is bad or a family is ranked twice, then resolve each row once: its family, village and current
    desil, previous ranking (the latest of an earlier period) and, when the period was applied before, the
    ranking it has for this period."""
    ranking = DesilRanking._meta.db_table
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS central_stage_desil_rows "
                   "(central_id varchar(32), village_code varchar(13), desil smallint, score numeric(8, 3))")
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS central_stage_desil "
                   "(central_id varchar(32), village_code varchar(13), desil smallint, score numeric(8, 3), "
                   "family_id bigint, village_id varchar(13), current_desil smallint, old_desil smallint, "
                   "old_score numeric(8, 3), this_desil smallint, this_score numeric(8, 3))")
    cursor.execute("TRUNCATE central_stage_desil_rows, central_stage_desil")
    # The JSON is read only for a page that has no CSV.
    pages = _publication_pages(publication).order_by("number").values_list(
        "staged", Case(When(staged__isnull=True, then=F("body"))))
    check = _RowCheck(repeats=False)
    for start in range(1, publication.page_count + 1, PAGES_PER_COPY):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for staged, body in pages.filter(number__gte=start, number__lt=start + PAGES_PER_COPY):
            if staged is not None:
                buffer.write(staged)
            else:
                writer.writerows(_copy_row(row) for row in json.loads(body) if check.take(row))
        if buffer.tell():
            buffer.seek(0)
            cursor.copy_expert("COPY central_stage_desil_rows (central_id, village_code, desil, score) "
                               "FROM STDIN WITH (FORMAT csv)", buffer)
    check.refuse_if_any()  # families ranked twice: found by the database (_refuse_repeated_rows)
    cursor.execute("ANALYZE central_stage_desil_rows")  # a hash join with the families, not a million probes
    # Applied before (the same publication again, or the centre replaced it): each family's ranking of this
    # period too, so the writes below skip what is already so instead of locking every row to compare it.
    this = (f"LEFT JOIN LATERAL (SELECT r.desil, r.score FROM {ranking} r WHERE r.family_id = f.id"  # nosec B608
            f" AND r.period = %(period)s) this ON true" if again else
            "CROSS JOIN (SELECT NULL::smallint AS desil, NULL::numeric AS score) this")
    cursor.execute(
        f"INSERT INTO central_stage_desil SELECT s.central_id, s.village_code, s.desil, s.score, f.id,"  # nosec B608
        f" f.village_id, f.desil, prev.desil, prev.score, this.desil, this.score FROM central_stage_desil_rows s"
        f" LEFT JOIN {Family._meta.db_table} f ON f.central_id = s.central_id"
        f" LEFT JOIN LATERAL (SELECT r.desil, r.score FROM {ranking} r WHERE r.family_id = f.id"
        f" AND r.period < %(period)s ORDER BY r.period DESC LIMIT 1) prev ON true {this}",
        {"period": publication.period})
    cursor.execute("TRUNCATE central_stage_desil_rows")
    cursor.execute("ANALYZE central_stage_desil")


def _refuse_repeated_rows(cursor, *, among_unmatched: bool = False) -> None:
    """Refuse the publication if it ranks a family twice (only among the rows the register has no family for,
    when the rankings' unique (family, period) has already shown the others to be once each)."""
    unmatched = "WHERE family_id IS NULL " if among_unmatched else ""
    cursor.execute(f"SELECT count(*), min(central_id) FROM (SELECT central_id FROM central_stage_desil "  # nosec B608
                   f"{unmatched}GROUP BY central_id HAVING count(*) > 1) repeated")
    repeated, first = cursor.fetchone()
    if repeated:
        _refuse_repeated(repeated, first)


def _insert(cursor, insert: str, on_conflict: str, params: dict, *, again: bool, before_upsert=None) -> bool:
    """Run ``insert``; on a first apply as a plain INSERT (the period's rows are new but for the odd one an
    ingest wrote, and checking each row for a conflict cost the rankings a fifth of their time), taking
    ``on_conflict`` (after ``before_upsert()``) only when the plain INSERT meets a row that is already there.
    Says whether the plain INSERT went through."""
    if not again:
        try:
            with transaction.atomic():
                cursor.execute(insert, params)
            return True
        except IntegrityError:
            pass  # rolled back to the savepoint: the upsert below does it all
    if before_upsert:
        before_upsert()
    cursor.execute(insert + on_conflict, params)
    return False


def _apply_postgresql(publication: DesilPublication) -> Applied:
    ranking, change = DesilRanking._meta.db_table, DesilChange._meta.db_table
    threshold, unmatched = DesilThreshold._meta.db_table, UnmatchedRanking._meta.db_table
    period = {"period": publication.period}
    with connection.cursor() as cursor:
        # Joins and sorts over a million rows: give this transaction the memory to do them in one pass.
        cursor.execute("SET LOCAL work_mem = '128MB'")
        again = DesilPublication.objects.filter(pk=publication.pk, applied_at__isnull=False).exists()
        _stage(cursor, publication, again=again)
        # The rankings first: a plain INSERT of them (first apply) also proves that no family of the register
        # is ranked twice (the unique (family, period) would refuse the second row), so only the rows of
        # families the register does not hold are counted for repeats then; else all of them, before upserting.
        if _insert(
                cursor,
                f"INSERT INTO {ranking} AS r (family_id, period, desil, score, source, created_at) "  # nosec B608
                f"SELECT family_id, %(period)s, desil, score, 'central', now() FROM central_stage_desil "
                f"WHERE family_id IS NOT NULL AND (this_desil, this_score) IS DISTINCT FROM (desil, score)",
                " ON CONFLICT (family_id, period) DO UPDATE SET desil = EXCLUDED.desil, score = EXCLUDED.score "
                "WHERE (r.desil, r.score) IS DISTINCT FROM (EXCLUDED.desil, EXCLUDED.score)", period, again=again,
                before_upsert=lambda: _refuse_repeated_rows(cursor)):
            _refuse_repeated_rows(cursor, among_unmatched=True)
        # Applied again, the change rows that are already so are left alone.
        unchanged_change = (f" WHERE NOT EXISTS (SELECT 1 FROM {change} c WHERE c.family_id = s.family_id"  # nosec B608
                            f" AND c.period = %(period)s AND (c.village_id, c.old_desil, c.new_desil, c.old_score,"
                            f" c.new_score) IS NOT DISTINCT FROM (s.village_id, s.old_desil, s.new_desil, s.old_score,"
                            f" s.new_score))" if again else "")
        # The change feed. Re-applying this period gives the same rows; rows of this period that no longer
        # differ (the centre replaced the publication) are removed in the same statement.
        _insert(
            cursor,
            f"WITH changed AS (SELECT family_id, village_id, old_desil, desil AS new_desil, old_score,"  # nosec B608
            f" score AS new_score FROM central_stage_desil"
            f" WHERE family_id IS NOT NULL AND old_desil IS DISTINCT FROM desil),"
            f" stale AS (DELETE FROM {change} c WHERE c.period = %(period)s"
            f" AND NOT EXISTS (SELECT 1 FROM changed WHERE changed.family_id = c.family_id))"
            f" INSERT INTO {change} AS c (family_id, village_id, period, old_desil, new_desil, old_score, new_score,"
            f" movement, recorded_at) SELECT family_id, village_id, %(period)s, old_desil, new_desil, old_score,"
            f" new_score, {MOVEMENT_SQL}, now() FROM changed s{unchanged_change}",
            " ON CONFLICT (family_id, period) DO UPDATE SET village_id = EXCLUDED.village_id,"
            " old_desil = EXCLUDED.old_desil, new_desil = EXCLUDED.new_desil, old_score = EXCLUDED.old_score,"
            " new_score = EXCLUDED.new_score, movement = EXCLUDED.movement, recorded_at = EXCLUDED.recorded_at"
            " WHERE (c.village_id, c.old_desil, c.new_desil, c.old_score, c.new_score) IS DISTINCT FROM"
            " (EXCLUDED.village_id, EXCLUDED.old_desil, EXCLUDED.new_desil, EXCLUDED.old_score,"
            " EXCLUDED.new_score)", period, again=again)
        # The current desil is the latest publication's: this one, unless a later one ranked the family
        # (asked only of the families whose desil would change; the staged current desil keeps the
        # others out of the join).
        cursor.execute(
            f"UPDATE {Family._meta.db_table} f SET desil = s.desil FROM central_stage_desil s "  # nosec B608
            f"WHERE s.current_desil IS DISTINCT FROM s.desil AND f.id = s.family_id "
            f"AND f.desil IS DISTINCT FROM s.desil AND NOT EXISTS (SELECT 1 "
            f"FROM {ranking} later WHERE later.family_id = f.id AND later.period > %(period)s)", period)
        # Score bounds per desil over the whole publication (every row, the unmatched ones too).
        cursor.execute(
            f"WITH bounds AS (SELECT desil, min(score) AS min_score, max(score) AS max_score, count(*) AS families"  # nosec B608
            f" FROM central_stage_desil GROUP BY desil HAVING min(score) IS NOT NULL),"
            f" stale AS (DELETE FROM {threshold} t WHERE t.period = %(period)s"
            f" AND NOT EXISTS (SELECT 1 FROM bounds WHERE bounds.desil = t.desil))"
            f" INSERT INTO {threshold} AS t (period, desil, min_score, max_score, families)"
            f" SELECT %(period)s, desil, min_score, max_score, families FROM bounds"
            f" ON CONFLICT (period, desil) DO UPDATE SET min_score = EXCLUDED.min_score,"
            f" max_score = EXCLUDED.max_score, families = EXCLUDED.families"
            f" WHERE (t.min_score, t.max_score, t.families) IS DISTINCT FROM"
            f" (EXCLUDED.min_score, EXCLUDED.max_score, EXCLUDED.families)", period)
        cursor.execute(
            f"WITH missing AS (SELECT central_id, coalesce(village_code, '') AS village_code, desil, score"  # nosec B608
            f" FROM central_stage_desil WHERE family_id IS NULL),"
            f" stale AS (DELETE FROM {unmatched} u WHERE u.period = %(period)s"
            f" AND NOT EXISTS (SELECT 1 FROM missing WHERE missing.central_id = u.central_id))"
            f" INSERT INTO {unmatched} AS u (period, central_id, village_code, desil, score)"
            f" SELECT %(period)s, central_id, village_code, desil, score FROM missing"
            f" ON CONFLICT (period, central_id) DO UPDATE SET village_code = EXCLUDED.village_code,"
            f" desil = EXCLUDED.desil, score = EXCLUDED.score"
            f" WHERE (u.village_code, u.desil, u.score) IS DISTINCT FROM"
            f" (EXCLUDED.village_code, EXCLUDED.desil, EXCLUDED.score)", period)
        cursor.execute("SELECT count(family_id) FROM central_stage_desil")
        ranked = cursor.fetchone()[0]
        cursor.execute("TRUNCATE central_stage_desil")
    return _counters(publication.period, ranked)


# -- any other database (SQLite under `make run`): the same records through the ORM ------------------------
def _movement(old: int | None, new: int) -> str:
    if new <= AID_BAND_MAX_DESIL and (old is None or old > AID_BAND_MAX_DESIL):
        return DesilChange.Movement.ENTERED
    if old is not None and old <= AID_BAND_MAX_DESIL < new:
        return DesilChange.Movement.LEFT
    return DesilChange.Movement.WITHIN


def _apply_orm(publication: DesilPublication, rows: list[dict]) -> Applied:
    period = publication.period
    families = {central_id: (pk, village) for central_id, pk, village in Family.objects.filter(
        central_id__in=[r["central_id"] for r in rows]).values_list("central_id", "id", "village_id")}
    matched = [r for r in rows if r["central_id"] in families]
    previous = {}
    for family_id, desil, score in (DesilRanking.objects.filter(
            family_id__in=[families[r["central_id"]][0] for r in matched], period__lt=period)
            .order_by("family_id", "-period").values_list("family_id", "desil", "score")):
        previous.setdefault(family_id, (desil, score))
    changes = []
    for r in matched:
        family_id, village_id = families[r["central_id"]]
        old_desil, old_score = previous.get(family_id, (None, None))
        if old_desil != r["desil"]:
            changes.append(DesilChange(family_id=family_id, village_id=village_id, period=period,
                                       old_desil=old_desil, new_desil=r["desil"], old_score=old_score,
                                       new_score=r.get("score"), movement=_movement(old_desil, r["desil"])))
    DesilChange.objects.filter(period=period).exclude(family_id__in=[c.family_id for c in changes]).delete()
    DesilChange.objects.bulk_create(
        changes, update_conflicts=True, unique_fields=["family", "period"], batch_size=2000,
        update_fields=["village", "old_desil", "new_desil", "old_score", "new_score", "movement"])

    rankings = [DesilRanking(family_id=families[r["central_id"]][0], period=period, desil=r["desil"],
                             score=r.get("score"), source="central") for r in matched]
    DesilRanking.objects.bulk_create(rankings, update_conflicts=True, unique_fields=["family", "period"],
                                     update_fields=["desil", "score"], batch_size=2000)
    desil_refresh_current([pk for pk, _village in families.values()])

    scores, counts = {}, {}
    for r in rows:
        counts[r["desil"]] = counts.get(r["desil"], 0) + 1
        if r.get("score") is not None:
            scores.setdefault(r["desil"], []).append(r["score"])
    DesilThreshold.objects.filter(period=period).exclude(desil__in=list(scores)).delete()
    DesilThreshold.objects.bulk_create(
        [DesilThreshold(period=period, desil=d, min_score=min(s), max_score=max(s), families=counts[d])
         for d, s in scores.items()],
        update_conflicts=True, unique_fields=["period", "desil"], update_fields=["min_score", "max_score", "families"])

    missing = [r for r in rows if r["central_id"] not in families]
    UnmatchedRanking.objects.filter(period=period).exclude(
        central_id__in=[r["central_id"] for r in missing]).delete()
    UnmatchedRanking.objects.bulk_create(
        [UnmatchedRanking(period=period, central_id=r["central_id"], village_code=r.get("village_code") or "",
                          desil=r["desil"], score=r.get("score")) for r in missing],
        update_conflicts=True, unique_fields=["period", "central_id"], update_fields=["village_code", "desil", "score"],
        batch_size=2000)
    return _counters(period, len(matched))
