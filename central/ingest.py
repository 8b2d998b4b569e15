"""Applying a downloaded batch of data awal to the register, set-based and all-or-nothing.

1. Every family and member is validated in memory (NIK/KK, village inside the batch's regency, coded
   values); any bad row holds the whole batch with the reasons, before anything is written.
2. On PostgreSQL the rows stream into temporary staging tables with ``COPY`` (progress is committed per
   chunk, so the batch page shows rows done / total while it runs).
3. One transaction first sets aside the families that clash with the register (a KK number or NIK held
   by another family; ``central.clashes``) as items of their own for Dinsos, linking an usulan the batch
   now names by its KK; then it upserts families, members and desil rankings from staging (``INSERT ... SELECT ...
   ON CONFLICT DO UPDATE ... WHERE IS DISTINCT FROM``, so applying the same batch twice changes nothing),
   writes audit history for the rows it changed, refreshes the current desil and splits the batch into
   one verification round per village.

Other databases (the SQLite demo) take the same steps through Django's bulk upserts.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import DesilRanking, Family, Member, Region
from registry.services import desil_refresh_current
from registry.validators import parse_kk, parse_nik
from verification.models import RoundFamily, VerificationRound
from verification.services import cycle_of, rounds_set_calendar

from .models import CentralBatch, DownloadedPage

ATTR_FIELDS = [
    "house_ownership", "floor_area_m2", "floor_type", "wall_type", "roof_type", "water_source", "lighting",
    "cooking_fuel", "toilet", *Family.ASSET_FIELDS,
]
FAMILY_COLUMNS = ["central_id", "kk_number", "village_id", "dusun", "rt", "rw", "address", *ATTR_FIELDS]
MEMBER_COLUMNS = ["nik", "name", "sex", "birth_place", "birth_date", "relationship", "education", "occupation",
                  "disability", "life_status"]
CHUNK_PAGES = 20  # pages staged between two progress updates
MAX_REPORTED_ERRORS = 5


class BatchRejected(Exception):
    """The batch's content cannot be applied; the message says where and why (shown on the sync page)."""


@dataclass
class IngestResult:
    families: int = 0
    members: int = 0
    families_changed: int = 0
    members_changed: int = 0
    families_held: int = 0  # clashing with the register: held as BatchClash items, not applied
    rounds_created: int = 0


def _choices(model, name) -> set:
    return {value for value, _label in model._meta.get_field(name).flatchoices}


class _Validator:
    """Checks one batch's rows against the register's rules, collecting row-and-field messages."""

    def __init__(self, batch: CentralBatch):
        self.batch = batch
        self.villages = set(Region.objects.filter(code__startswith=batch.regency_code + ".",
                                                  level=Region.Level.VILLAGE).values_list("code", flat=True))
        self.kecamatan = {code[:8] for code in self.villages}
        self.choices = {name: _choices(Family, name) for name in ATTR_FIELDS
                        if Family._meta.get_field(name).choices}
        self.member_choices = {name: _choices(Member, name) for name in
                               ("sex", "relationship", "education", "disability", "life_status")}
        self.errors: list[str] = []
        self.error_count = 0
        self.seen_central, self.seen_kk, self.seen_nik = set(), set(), set()
        self.today = timezone.localdate()

    def error(self, where, message: str) -> None:
        """Record a problem; ``where`` is a callable so the message is only built when there is one."""
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"{where()}: {message}")

    def family(self, page: int, index: int, data: dict) -> tuple[tuple, list[tuple]] | None:
        def where():
            text = _("page %(page)d, family %(index)d") % {"page": page, "index": index}
            return f"{text} ({central_id})" if central_id else text

        central_id = ""
        before = self.error_count
        if not isinstance(data, dict):
            self.error(where, _("not an object"))
            return None
        central_id = str(data.get("central_id") or "")
        if not central_id or len(central_id) > 32:
            self.error(where, _("field central_id is missing or longer than 32 characters"))
        elif central_id in self.seen_central:
            self.error(where, _("DTSEN id %(id)s appears twice in the batch") % {"id": central_id})
        self.seen_central.add(central_id)
        village = str(data.get("village_code") or "")
        if village not in self.villages:
            self.error(where, _("village code %(code)s is not a village of regency %(regency)s")
                       % {"code": village, "regency": self.batch.regency_code})
        kk = str(data.get("kk_number") or "")
        try:
            parse_kk(kk, known_kecamatan=self.kecamatan.__contains__, today=self.today)
        except ValidationError as exc:
            self.error(where, _("field kk_number: %(error)s") % {"error": " ".join(exc.messages)})
        if kk in self.seen_kk:
            self.error(where, _("KK number %(kk)s appears twice in the batch") % {"kk": kk})
        self.seen_kk.add(kk)
        attrs = data.get("attrs") if isinstance(data.get("attrs"), dict) else {}
        for name, allowed in self.choices.items():
            if attrs.get(name, "") not in allowed | {""}:
                self.error(where, _("field %(field)s: unknown value %(value)s") % {"field": name,
                                                                                   "value": attrs.get(name)})
        area = attrs.get("floor_area_m2")
        if area is not None and not (isinstance(area, int) and 0 <= area <= 5000):
            self.error(where, _("field floor_area_m2: %(value)s is not a floor area") % {"value": area})
        history = data.get("desil_history") or []
        latest = max(history, key=lambda h: h.get("period", "")) if history else {}
        desil, period = latest.get("desil"), latest.get("period")
        if history and not (isinstance(desil, int) and 1 <= desil <= 10 and _iso_date(period)):
            self.error(where, _("field desil_history: desil %(desil)s on %(period)s is not valid")
                       % {"desil": desil, "period": period})
        members = []
        for number, member in enumerate(data.get("members") or [], start=1):
            row = self.member(lambda n=number: f"{where()}, {_('member')} {n}", member, central_id)
            if row:
                members.append(row)
        if not members:
            self.error(where, _("the family has no members"))
        if self.error_count > before:
            return None
        family_row = (central_id, kk, village, str(data.get("dusun") or "")[:60], str(data.get("rt") or "")[:3],
                      str(data.get("rw") or "")[:3], str(data.get("address") or "")[:255],
                      *(attrs.get(name, False if name.startswith("has_") else "") for name in ATTR_FIELDS),
                      desil, period, latest.get("score"), page)
        return family_row, members

    def member(self, where, data: dict, central_id: str) -> tuple | None:
        if not isinstance(data, dict):
            self.error(where, _("not an object"))
            return None
        before = self.error_count
        nik = str(data.get("nik") or "")
        try:
            parts = parse_nik(nik, known_kecamatan=self.kecamatan.__contains__, today=self.today)
        except ValidationError as exc:
            self.error(where, _("field nik: %(error)s") % {"error": " ".join(exc.messages)})
            parts = None
        if nik in self.seen_nik:
            self.error(where, _("NIK %(nik)s appears twice in the batch") % {"nik": nik})
        self.seen_nik.add(nik)
        birth = _iso_date(data.get("birth_date"))
        if birth is None:
            self.error(where, _("field birth_date: %(value)s is not a date") % {"value": data.get("birth_date")})
        elif parts and (parts.birth_date, parts.sex) != (birth, data.get("sex")):
            self.error(where, _("NIK %(nik)s does not match the birth date and sex given") % {"nik": nik})
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 120:
            self.error(where, _("field name is empty or longer than 120 characters"))
        for field, allowed in self.member_choices.items():
            value = data.get(field, "")
            if value not in allowed | ({""} if field == "education" else set()):
                self.error(where, _("field %(field)s: unknown value %(value)s") % {"field": field, "value": value})
        if self.error_count > before:
            return None
        return (central_id, nik, name, data["sex"], str(data.get("birth_place") or "")[:60], birth.isoformat(),
                data["relationship"], data.get("education") or "", str(data.get("occupation") or "")[:60],
                data["disability"], data["life_status"])


def _iso_date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _pages(batch: CentralBatch) -> Iterator[tuple[int, list]]:
    """(page number, rows) in page order, each page re-checked against its checksum as it is read."""
    pages = DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id) \
        .order_by("number").values_list("number", "checksum", "body").iterator(chunk_size=CHUNK_PAGES)
    for number, expected, body in pages:
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != expected:
            raise BatchRejected(_("Stored page %(page)d no longer matches its checksum.") % {"page": number})
        yield number, json.loads(body)


def validate_batch(batch: CentralBatch) -> Iterator[tuple[int, list[tuple], list[tuple]]]:
    """Validate every row first (no write happens on a bad batch); then yield (pages, families, members)
    chunks of the validated rows."""
    validator = _Validator(batch)
    chunks, families, members, pages = [], [], [], 0
    for number, rows in _pages(batch):
        for index, data in enumerate(rows if isinstance(rows, list) else [], start=1):
            checked = validator.family(number, index, data)
            if checked:
                families.append(checked[0])
                members.extend(checked[1])
        pages += 1
        if pages % CHUNK_PAGES == 0:
            chunks.append((pages, families, members))
            families, members = [], []
    if families or members:
        chunks.append((pages, families, members))
    if validator.error_count:
        more = validator.error_count - len(validator.errors)
        message = "; ".join(validator.errors)
        if more > 0:
            message += " " + _("(and %(n)d more)") % {"n": more}
        raise BatchRejected(message)
    return iter(chunks)


def ingest_batch(batch: CentralBatch) -> IngestResult:
    """Apply a downloaded, verified batch to the register (see the module docstring)."""
    chunks = list(validate_batch(batch))
    total = sum(len(f) + len(m) for _p, f, m in chunks)
    CentralBatch.objects.filter(pk=batch.pk).update(rows_total=total, rows_done=0)
    if connection.vendor == "postgresql":
        return _ingest_postgresql(batch, chunks)
    return _ingest_orm(batch, chunks)


# -- PostgreSQL: COPY into staging, upsert from there ------------------------------------------------------
STAGE_FAMILY_DDL = """
CREATE TEMP TABLE IF NOT EXISTS central_stage_family (
    central_id varchar(32), kk_number varchar(16), village_id varchar(13), dusun varchar(60), rt varchar(3),
    rw varchar(3), address varchar(255), house_ownership varchar(12), floor_area_m2 integer,
    floor_type varchar(12), wall_type varchar(18), roof_type varchar(12), water_source varchar(20),
    lighting varchar(14), cooking_fuel varchar(12), toilet varchar(8),
    has_lpg_large boolean, has_refrigerator boolean, has_air_conditioner boolean, has_water_heater boolean,
    has_flat_tv boolean, has_gold boolean, has_computer boolean, has_motorcycle boolean, has_car boolean,
    has_boat boolean, has_land boolean, has_livestock boolean,
    desil smallint, period date, score numeric(8, 3), page integer)
"""
STAGE_MEMBER_DDL = """
CREATE TEMP TABLE IF NOT EXISTS central_stage_member (
    central_id varchar(32), nik varchar(16), name varchar(120), sex varchar(1), birth_place varchar(60),
    birth_date date, relationship varchar(14), education varchar(10), occupation varchar(60),
    disability varchar(12), life_status varchar(10))
"""
# The page a family came on lets a clash be recorded with the centre's document as it was sent.
STAGE_FAMILY_COLUMNS = [*FAMILY_COLUMNS, "desil", "period", "score", "page"]
STAGE_MEMBER_COLUMNS = ["central_id", *MEMBER_COLUMNS]


# Columns that may be empty (NULL); in CSV every string is quoted, so NULL must be asked for by name.
NULLABLE_STAGE_COLUMNS = {"floor_area_m2", "desil", "period", "score"}


def _copy(cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    buffer = io.StringIO()
    # Quoting every string keeps "" an empty string; numbers and booleans (True/False) stay bare.
    csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC).writerows(rows)
    buffer.seek(0)
    nullable = [c for c in columns if c in NULLABLE_STAGE_COLUMNS]
    options = f", FORCE_NULL ({', '.join(nullable)})" if nullable else ""
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv{options})", buffer)


def history_sql(model, source: str, reason_sql: str = "%s") -> str:
    """INSERT of audit-history rows ('~', by the system) for the rows of CTE ``source``; the reason is a
    parameter unless ``reason_sql`` gives an expression over ``source``'s columns."""
    history = model.history.model
    columns = [f.column for f in history._meta.concrete_fields if not f.column.startswith("history_")]
    return (f"INSERT INTO {history._meta.db_table} ({', '.join(columns)}, history_date, history_change_reason, "  # nosec B608
            f"history_type, history_user_id) SELECT {', '.join(columns)}, now(), {reason_sql}, '~', NULL "
            f"FROM {source}")


def _upsert(cursor, model, *, source: str, key: str, columns: list[str], insert_extra: dict[str, str],
            update_extra: dict[str, str], reason: str) -> int:
    """Update the rows of ``model`` whose values differ from ``source`` (with audit history), then insert
    the new ones. Two plain statements instead of ON CONFLICT: PostgreSQL inserts a batch of mostly new
    rows markedly faster without speculative insertion, and the batch lock keeps writers apart.
    Returns how many rows were inserted or changed; unchanged rows are not touched."""
    table = model._meta.db_table
    compared = [c for c in columns if c != key]
    assignments = ", ".join([f"{c} = x.{c}" for c in compared] + [f"{c} = {v}" for c, v in update_extra.items()])
    cursor.execute(
        f"WITH up AS (UPDATE {table} t SET {assignments} FROM ({source}) x WHERE t.{key} = x.{key} "  # nosec B608
        f"AND ({', '.join('t.' + c for c in compared)}) IS DISTINCT FROM ({', '.join('x.' + c for c in compared)}) "
        f"RETURNING t.*) {history_sql(model, 'up')}", [reason])
    changed = cursor.rowcount
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns + list(insert_extra))}) "  # nosec B608
        f"SELECT {', '.join(['x.' + c for c in columns] + list(insert_extra.values()))} FROM ({source}) x "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = x.{key})")
    return changed + cursor.rowcount


def _ingest_postgresql(batch: CentralBatch, chunks) -> IngestResult:
    from .clashes import clashes_hold_sql  # here: central.clashes builds on this module's columns

    result = IngestResult()
    with connection.cursor() as cursor:
        cursor.execute(STAGE_FAMILY_DDL)
        cursor.execute(STAGE_MEMBER_DDL)
        cursor.execute("TRUNCATE central_stage_family, central_stage_member")
        done = 0
        for _pages_done, families, members in chunks:
            _copy(cursor, "central_stage_family", STAGE_FAMILY_COLUMNS, families)
            _copy(cursor, "central_stage_member", STAGE_MEMBER_COLUMNS, members)
            done += len(families) + len(members)
            result.families += len(families)
            result.members += len(members)
            # Outside the upsert's transaction, so the batch page sees it move.
            CentralBatch.objects.filter(pk=batch.pk).update(rows_done=done)
        with transaction.atomic():
            result.families_held = clashes_hold_sql(cursor, batch)
            result.families_changed, result.members_changed = _upsert_all(cursor, batch)
            result.rounds_created = _split_rounds(cursor, batch)
            set_rounds_calendar(batch)
        cursor.execute("TRUNCATE central_stage_family, central_stage_member")
    return result


def _upsert_all(cursor, batch: CentralBatch) -> tuple[int, int]:
    reason = f"central batch {batch.batch_id}"
    family_table = Family._meta.db_table
    # A new family takes the batch's desil at once; an existing one keeps its own until the refresh below,
    # which follows its latest publication (the batch's may be older).
    families_changed = _upsert(
        cursor, Family, source="SELECT * FROM central_stage_family", key="central_id", columns=FAMILY_COLUMNS,
        insert_extra={"origin": "'central'", "desil": "x.desil", "version": "1", "created_at": "now()",
                      "updated_at": "now()"},
        update_extra={"version": "t.version + 1", "updated_at": "now()"}, reason=reason)
    members_changed = _upsert(
        cursor, Member, key="nik", columns=[*MEMBER_COLUMNS, "family_id"],
        source=f"SELECT s.*, f.id AS family_id FROM central_stage_member s "  # nosec B608
               f"JOIN {family_table} f ON f.central_id = s.central_id",
        insert_extra={"updated_at": "now()"}, update_extra={"updated_at": "now()"}, reason=reason)

    ranking_table = DesilRanking._meta.db_table
    cursor.execute(
        f"INSERT INTO {ranking_table} (family_id, period, desil, score, source, created_at) "  # nosec B608
        f"SELECT f.id, s.period, s.desil, s.score, 'central', now() FROM central_stage_family s "
        f"JOIN {family_table} f ON f.central_id = s.central_id WHERE s.period IS NOT NULL "
        f"ON CONFLICT (family_id, period) DO UPDATE SET desil = EXCLUDED.desil, score = EXCLUDED.score "
        f"WHERE ({ranking_table}.desil, {ranking_table}.score) IS DISTINCT FROM (EXCLUDED.desil, EXCLUDED.score)")
    refresh_current_desil_sql(cursor, f"SELECT f.id FROM central_stage_family s JOIN {family_table} f "  # nosec B608
                                      "ON f.central_id = s.central_id")
    return families_changed, members_changed


def refresh_current_desil_sql(cursor, family_ids_sql: str, params=()) -> int:
    """Set each listed family's current desil to its latest ranking (set-based)."""
    family_table, ranking_table = Family._meta.db_table, DesilRanking._meta.db_table
    cursor.execute(
        f"UPDATE {family_table} f SET desil = latest.desil FROM ("  # nosec B608
        f"SELECT DISTINCT ON (r.family_id) r.family_id, r.desil FROM {ranking_table} r "
        f"WHERE r.family_id IN ({family_ids_sql}) ORDER BY r.family_id, r.period DESC) latest "
        "WHERE f.id = latest.family_id AND f.desil IS DISTINCT FROM latest.desil", params)
    return cursor.rowcount


def _split_rounds(cursor, batch: CentralBatch) -> int:
    round_table, entry_table = VerificationRound._meta.db_table, RoundFamily._meta.db_table
    family_table = Family._meta.db_table
    cursor.execute(
        f"INSERT INTO {round_table} (public_id, village_id, batch_ref, programme, state, return_note, created_at, "  # nosec B608
        "state_changed_at) SELECT gen_random_uuid(), v.village_id, %s, %s, 'open', '', now(), now() "
        "FROM (SELECT DISTINCT village_id FROM central_stage_family) v "
        "ON CONFLICT (village_id, batch_ref) DO NOTHING", [batch.batch_id, batch.programme])
    created = cursor.rowcount
    cursor.execute(
        f"INSERT INTO {entry_table} (round_id, family_id, decision, reason, note, evidence, is_proposal, "  # nosec B608
        f"return_note, version, flagged, centre_outcome, centre_reason) "
        f"SELECT r.id, f.id, '', '', '', '', false, '', 1, false, '', '' "
        f"FROM central_stage_family s "
        f"JOIN {family_table} f ON f.central_id = s.central_id "
        f"JOIN {round_table} r ON r.village_id = s.village_id AND r.batch_ref = %s "
        "ON CONFLICT (round_id, family_id) DO NOTHING", [batch.batch_id])
    return created


def set_rounds_calendar(batch: CentralBatch) -> None:
    """The batch's rounds take its deadline and update cycle (a batch without one: the cycle it was
    published in)."""
    published = timezone.localdate(batch.published_at) if batch.published_at else timezone.localdate()
    rounds_set_calendar(batch_ref=batch.batch_id, cycle=batch.cycle or cycle_of(published),
                        deadline=batch.deadline)


# -- Other databases: the same steps through Django's bulk upserts ----------------------------------------
def _ingest_orm(batch: CentralBatch, chunks) -> IngestResult:
    from .clashes import clashes_hold_orm

    result = IngestResult()
    families = [row for _p, f, _m in chunks for row in f]
    members = [row for _p, _f, m in chunks for row in m]
    result.families, result.members = len(families), len(members)
    with transaction.atomic():
        families, members, result.families_held = clashes_hold_orm(batch, families, members)
        Family.objects.bulk_create(
            [Family(origin=Family.Origin.CENTRAL, **dict(zip(FAMILY_COLUMNS, row[:len(FAMILY_COLUMNS)],
                                                             strict=True))) for row in families],
            update_conflicts=True, unique_fields=["central_id"],
            update_fields=[c for c in FAMILY_COLUMNS if c != "central_id"], batch_size=2000)
        ids = dict(Family.objects.filter(central_id__in=[r[0] for r in families]).values_list("central_id", "id"))
        Member.objects.bulk_create(
            [Member(family_id=ids[row[0]], **dict(zip(MEMBER_COLUMNS, row[1:], strict=True))) for row in members],
            update_conflicts=True, unique_fields=["nik"], update_fields=[*MEMBER_COLUMNS[1:], "family_id"],
            batch_size=2000)
        n = len(FAMILY_COLUMNS)
        DesilRanking.objects.bulk_create(
            [DesilRanking(family_id=ids[row[0]], desil=row[n], period=row[n + 1], score=row[n + 2])
             for row in families if row[n + 1]],
            update_conflicts=True, unique_fields=["family", "period"], update_fields=["desil", "score"])
        desil_refresh_current(list(ids.values()))
        villages = sorted({row[2] for row in families})
        existing = set(VerificationRound.objects.filter(batch_ref=batch.batch_id).values_list("village_id",
                                                                                              flat=True))
        VerificationRound.objects.bulk_create(
            [VerificationRound(village_id=v, batch_ref=batch.batch_id, programme=batch.programme)
             for v in villages if v not in existing])
        rounds = dict(VerificationRound.objects.filter(batch_ref=batch.batch_id).values_list("village_id", "id"))
        RoundFamily.objects.bulk_create(
            [RoundFamily(round_id=rounds[row[2]], family_id=ids[row[0]]) for row in families],
            ignore_conflicts=True)
        set_rounds_calendar(batch)
    result.families_changed, result.rounds_created = len(families), len(villages) - len(existing)
    CentralBatch.objects.filter(pk=batch.pk).update(rows_done=result.families + result.members)
    return result
