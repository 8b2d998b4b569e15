"""Applying a downloaded batch of data awal to the register, streamed page by page and set-based.

1. The stored pages are read one at a time (each is the centre's canonical JSON, verified against its checksum
   when it was downloaded; it is decoded once here). Every family is checked against the register's rules
   (NIK/KK, village inside the batch's regency, coded values); a family that breaks them is *held* with its
   reasons (``BatchHeldRow``) and the rest go on. Only a structurally broken page holds the whole batch.
2. A family whose document is byte for byte the one applied last time (``FamilyDigest``) is not validated or
   rewritten again: only its id, KK number and village are staged, for the batch's rounds.
3. On PostgreSQL the rows stream with ``COPY`` into the batch's own staging tables (UNLOGGED, in a schema of
   the batch: staging is not the register) as they are read, one *page range* at a time (``stage_range``):
   each range is one transaction, recorded once, so ranges can be staged by several Celery workers at once,
   on several machines, and a range staged twice (a lost worker's task run again) is staged once. The batch
   page shows rows done / total as ranges commit. Memory stays that of a few pages whatever the batch's size.
4. One transaction then reads the staging tables (the batch's schema first on the ``search_path``), holds
   the families the batch gives twice (an id, a KK number or a NIK of an earlier family), sets aside the
   families that clash with the register (``central.clashes``), upserts families, members and desil rankings
   (``UPDATE ... WHERE ... IS DISTINCT FROM`` then ``INSERT ... WHERE NOT EXISTS``, so unchanged rows are not
   rewritten and get no history row), records the applied digests, splits the batch into one verification
   round per village and drops the staging schema. The touched tables are ANALYZEd after a large load, so
   the plans right after a pull are good.

Other databases (the SQLite demo) take the same steps through Django's bulk upserts, in memory.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import DesilRanking, Family, Member, Region
from registry.services import desil_refresh_current
from registry.validators import parse_kk, parse_nik
from verification.models import RoundFamily, VerificationRound
from verification.services import cycle_of, rounds_set_calendar

from .models import BatchHeldRow, BatchState, CentralBatch, DownloadedPage, FamilyDigest

ATTR_FIELDS = [
    "house_ownership", "floor_area_m2", "floor_type", "wall_type", "roof_type", "water_source", "lighting",
    "cooking_fuel", "toilet", *Family.ASSET_FIELDS,
]
FAMILY_COLUMNS = ["central_id", "kk_number", "village_id", "dusun", "rt", "rw", "address", *ATTR_FIELDS]
MEMBER_COLUMNS = ["nik", "name", "sex", "birth_place", "birth_date", "relationship", "education", "occupation",
                  "disability", "life_status"]
CHUNK_PAGES = 10  # pages staged between two progress updates (and looked up together for their digests)
SEQ_PAGE = 1_000_000  # a family's place in the batch: page * SEQ_PAGE + position on the page
ANALYZE_AFTER_ROWS = 10_000  # a load this large changes the tables' statistics enough to refresh them
PREFIX_CACHE = 100_000  # NIK/KK prefixes remembered as valid (a few MB at most)
# Defaults of the attribute columns of an unchanged family's staged row (not applied; only its id and village).
_ATTR_BLANK = tuple(False if name.startswith("has_") else (None if name == "floor_area_m2" else "")
                    for name in ATTR_FIELDS)


class BatchRejected(Exception):
    """The batch's content cannot be applied; the message says where and why (shown on the sync page)."""


@dataclass
class IngestResult:
    families: int = 0
    members: int = 0
    families_changed: int = 0
    members_changed: int = 0
    families_held: int = 0  # clashing with the register: held as BatchClash items, not applied
    rows_held: int = 0  # breaking the register's rules: held as BatchHeldRow items, not applied
    families_unchanged: int = 0  # the same document as applied last time: neither validated nor rewritten
    rounds_created: int = 0
    families_similar: int = 0  # added, and likely the same as a family the register held: adjudication items
    families_unchecked: int = 0  # added, too many to compare with the register at once (a first load)


# The families a batch adds are compared with the register's (central.clashes.likely_duplicates_hold) up to
# this many; a first load of a regency adds more, and is left to the regency-wide duplicate scan.
NEW_IDS_KEPT = 5_000


@dataclass
class NewRows:
    """The rows an upsert inserted: how many, and their ids up to ``NEW_IDS_KEPT``."""

    count: int = 0
    ids: list[int] = field(default_factory=list)


def _choices(model, name) -> set:
    return {value for value, _label in model._meta.get_field(name).flatchoices}


def digest(text: str) -> str:
    """The hash of one family's canonical document, as ``FamilyDigest`` keeps it."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class _Validator:
    """Checks one family at a time against the register's rules; returns the rows to stage or the problems.

    ``in_memory_duplicates``: also catch an id, KK number or NIK the batch gives twice here (the ORM path);
    on PostgreSQL that is one set-based statement over the staging tables, so memory does not grow with the
    batch."""

    def __init__(self, batch: CentralBatch, *, in_memory_duplicates: bool = False):
        self.batch = batch
        self.villages = set(Region.objects.filter(code__startswith=batch.regency_code + ".",
                                                  level=Region.Level.VILLAGE).values_list("code", flat=True))
        self.kecamatan = {code[:8] for code in self.villages}
        self.choices = {name: _choices(Family, name) for name in ATTR_FIELDS
                        if Family._meta.get_field(name).choices}
        self.member_choices = {name: _choices(Member, name) | ({""} if name == "education" else set())
                               for name in ("sex", "relationship", "education", "disability", "life_status")}
        self.in_memory_duplicates = in_memory_duplicates
        self.seen_central, self.seen_kk, self.seen_nik = set(), set(), set()
        self.today = timezone.localdate()
        # A NIK's validity, birth date and sex follow from its first 12 digits (kecamatan and date), shared by
        # many people of a regency: checked once per prefix. Bounded, so memory does not follow the batch.
        self._nik_prefixes: dict[str, tuple[dt.date, str]] = {}
        self._kk_prefixes: set[str] = set()

    def _nik_parts(self, nik: str) -> tuple[dt.date, str]:
        """(birth date, sex) of a NIK; raises ValidationError as ``parse_nik`` does."""
        if not (len(nik) == 16 and nik.isascii() and nik.isdigit() and nik[12:] != "0000"):
            parts = parse_nik(nik, known_kecamatan=self.kecamatan.__contains__, today=self.today)
            return parts.birth_date, parts.sex
        prefix = nik[:12]
        known = self._nik_prefixes.get(prefix)
        if known is None:
            parts = parse_nik(nik, known_kecamatan=self.kecamatan.__contains__, today=self.today)
            if len(self._nik_prefixes) >= PREFIX_CACHE:
                self._nik_prefixes.clear()
            known = self._nik_prefixes[prefix] = (parts.birth_date, parts.sex)
        return known

    def _check_kk(self, kk: str) -> None:
        if len(kk) == 16 and kk.isascii() and kk.isdigit() and kk[12:] != "0000" and kk[:12] in self._kk_prefixes:
            return
        parse_kk(kk, known_kecamatan=self.kecamatan.__contains__, today=self.today)
        if len(self._kk_prefixes) >= PREFIX_CACHE:
            self._kk_prefixes.clear()
        self._kk_prefixes.add(kk[:12])

    def area_of(self, data) -> str:
        village = data.get("village_code") if isinstance(data, dict) else None
        return village if village in self.villages else self.batch.regency_code

    def family(self, data) -> tuple[tuple | None, list[tuple], list[str]]:
        """(family row, member rows, problems); the rows are None / empty when there is a problem."""
        if not isinstance(data, dict):
            return None, [], [_("not an object")]
        problems: list[str] = []
        central_id = str(data.get("central_id") or "")
        if not central_id or len(central_id) > 32:
            problems.append(_("field central_id is missing or longer than 32 characters"))
        elif self.in_memory_duplicates:
            if central_id in self.seen_central:
                problems.append(_("DTSEN id %(id)s appears twice in the batch") % {"id": central_id})
            self.seen_central.add(central_id)
        village = str(data.get("village_code") or "")
        if village not in self.villages:
            problems.append(_("village code %(code)s is not a village of regency %(regency)s")
                            % {"code": village, "regency": self.batch.regency_code})
        kk = str(data.get("kk_number") or "")
        try:
            self._check_kk(kk)
        except ValidationError as exc:
            problems.append(_("field kk_number: %(error)s") % {"error": " ".join(exc.messages)})
        if self.in_memory_duplicates:
            if kk in self.seen_kk:
                problems.append(_("KK number %(kk)s appears twice in the batch") % {"kk": kk})
            self.seen_kk.add(kk)
        attrs = data.get("attrs") if isinstance(data.get("attrs"), dict) else {}
        for name, allowed in self.choices.items():
            if attrs.get(name, "") not in allowed | {""}:
                problems.append(_("field %(field)s: unknown value %(value)s") % {"field": name,
                                                                                  "value": attrs.get(name)})
        area = attrs.get("floor_area_m2")
        if area is not None and not (isinstance(area, int) and 0 <= area <= 5000):
            problems.append(_("field floor_area_m2: %(value)s is not a floor area") % {"value": area})
        history = data.get("desil_history") or []
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            history = [{}]
        latest = max(history, key=lambda h: str(h.get("period", ""))) if history else {}
        desil, period = latest.get("desil"), latest.get("period")
        if history and not (isinstance(desil, int) and 1 <= desil <= 10 and _iso_date(period)):
            problems.append(_("field desil_history: desil %(desil)s on %(period)s is not valid")
                            % {"desil": desil, "period": period})
        members, own_niks = [], set()
        people = data.get("members") or []
        for number, member in enumerate(people if isinstance(people, list) else [], start=1):
            row, trouble = self.member(member, central_id, own_niks)
            problems.extend(f"{_('member')} {number}: {message}" for message in trouble)
            if row:
                members.append(row)
        if not members and not problems:
            problems.append(_("the family has no members"))
        if problems:
            return None, [], problems
        family_row = (central_id, kk, village, str(data.get("dusun") or "")[:60], str(data.get("rt") or "")[:3],
                      str(data.get("rw") or "")[:3], str(data.get("address") or "")[:255],
                      *(attrs.get(name, False if name.startswith("has_") else "") for name in ATTR_FIELDS),
                      desil, period, latest.get("score"))
        return family_row, members, []

    def member(self, data, central_id: str, own_niks: set) -> tuple[tuple | None, list[str]]:
        if not isinstance(data, dict):
            return None, [_("not an object")]
        problems = []
        nik = str(data.get("nik") or "")
        try:
            parts = self._nik_parts(nik)
        except ValidationError as exc:
            problems.append(_("field nik: %(error)s") % {"error": " ".join(exc.messages)})
            parts = None
        if nik in own_niks or (self.in_memory_duplicates and nik in self.seen_nik):
            problems.append(_("NIK %(nik)s appears twice in the batch") % {"nik": nik})
        own_niks.add(nik)
        if self.in_memory_duplicates:
            self.seen_nik.add(nik)
        birth = _iso_date(data.get("birth_date"))
        if birth is None:
            problems.append(_("field birth_date: %(value)s is not a date") % {"value": data.get("birth_date")})
        elif parts and parts != (birth, data.get("sex")):
            problems.append(_("NIK %(nik)s does not match the birth date and sex given") % {"nik": nik})
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 120:
            problems.append(_("field name is empty or longer than 120 characters"))
        for field_name, allowed in self.member_choices.items():
            value = data.get(field_name, "")
            if not isinstance(value, str) or value not in allowed:
                problems.append(_("field %(field)s: unknown value %(value)s") % {"field": field_name,
                                                                                  "value": value})
        if problems:
            return None, problems
        return (central_id, nik, name, data["sex"], str(data.get("birth_place") or "")[:60], birth.isoformat(),
                data["relationship"], data.get("education") or "", str(data.get("occupation") or "")[:60],
                data["disability"], data["life_status"]), []


def _iso_date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


_decoder = json.JSONDecoder()


def _page_families(number: int, body: str) -> list[tuple[object, str]]:
    """The families of one stored page with each one's own canonical text (for its digest), in one decoding
    pass: the body is the centre's canonical JSON (no spaces), so the families sit between single commas."""
    if not body.startswith("["):
        raise BatchRejected(_("Page %(page)d is not a list of families.") % {"page": number})
    families, index, end = [], 1, len(body) - 1
    try:
        while index < end:
            family, stop = _decoder.raw_decode(body, index)
            families.append((family, body[index:stop]))
            index = stop + 1  # the comma (or the closing bracket)
    except ValueError:
        raise BatchRejected(_("Page %(page)d is not a list of families.") % {"page": number}) from None
    return families


def _page_chunks(batch: CentralBatch, page_range: tuple[int, int] | None = None
                 ) -> Iterator[list[tuple[int, list]]]:
    """Chunks of CHUNK_PAGES decoded pages (all, or those of ``page_range``), in page order."""
    stored = DownloadedPage.objects.filter(stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id)
    if page_range:
        stored = stored.filter(number__range=page_range)
    pages = stored.order_by("number").values_list("number", "body").iterator(chunk_size=CHUNK_PAGES)
    chunk = []
    try:
        for number, body in pages:
            chunk.append((number, _page_families(number, body)))
            if len(chunk) == CHUNK_PAGES:
                yield chunk
                chunk = []
    finally:
        # The server-side cursor is closed now, inside the caller's transaction: left to the garbage
        # collector (a traceback keeps it alive), it would be closed after a rollback ended it.
        pages.close()
    if chunk:
        yield chunk


def _applied_digests(central_ids: list[str]) -> dict[str, str]:
    """The digests of these families as last applied, for those the register still holds under that id."""
    if not central_ids:
        return {}
    return dict(FamilyDigest.objects.filter(central_id__in=central_ids).filter(
        central_id__in=Family.objects.filter(central_id__in=central_ids).values("central_id"),
    ).values_list("central_id", "digest"))


@dataclass
class _Chunk:
    families: list[tuple] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)
    held: list[tuple] = field(default_factory=list)  # (seq, page, position, central_id, area, reasons, document)
    rows_read: int = 0
    unchanged: int = 0
    member_count: int = 0


def _chunks(batch: CentralBatch, validator: _Validator, *, skip_unchanged: bool,
            page_range: tuple[int, int] | None = None) -> Iterator[_Chunk]:
    """The batch's rows to stage (of ``page_range``, or all), chunk by chunk: each family validated (or
    recognised as unchanged) once."""
    for pages in _page_chunks(batch, page_range):
        known = _applied_digests([str(data.get("central_id")) for _n, rows in pages for data, _t in rows
                                  if isinstance(data, dict) and data.get("central_id")]) if skip_unchanged else {}
        chunk = _Chunk()
        for number, rows in pages:
            for position, (data, text) in enumerate(rows, start=1):
                seq = number * SEQ_PAGE + position
                people = data.get("members") if isinstance(data, dict) else None
                chunk.rows_read += 1 + (len(people) if isinstance(people, list) else 0)
                hashed = digest(text)
                if known and isinstance(data, dict) and known.get(data.get("central_id")) == hashed:
                    chunk.families.append((data["central_id"], data["kk_number"], data["village_code"], "", "",
                                           "", "", *_ATTR_BLANK, None, None, None, number, seq, hashed, True))
                    chunk.unchanged += 1
                    chunk.member_count += len(people)
                    continue
                family, members, problems = validator.family(data)
                if problems:
                    central_id = str(data.get("central_id") or "")[:32] if isinstance(data, dict) else ""
                    chunk.held.append((seq, number, position, central_id, validator.area_of(data),
                                       "; ".join(problems), text.replace("\\u0000", "")))
                    continue
                chunk.families.append((*family, number, seq, hashed, False))
                chunk.members.extend((*m, seq) for m in members)
                chunk.member_count += len(members)
        yield chunk


def ingest_batch(batch: CentralBatch) -> IngestResult:
    """Apply a downloaded, verified batch to the register (see the module docstring)."""
    total = batch.family_count + batch.member_count
    if connection.vendor == "postgresql":
        # rows_done counts the staged ranges (some may have been staged by workers already).
        CentralBatch.objects.filter(pk=batch.pk).update(rows_total=total)
        return _ingest_postgresql(batch)
    CentralBatch.objects.filter(pk=batch.pk).update(rows_total=total, rows_done=0)
    return _ingest_orm(batch)


# -- PostgreSQL: COPY into staging, upsert from there ------------------------------------------------------
# The staging tables of a batch live in a schema of their own, named by the batch's primary key: workers on
# other connections (other machines) write them, the apply finds them first on its search_path under the
# names its statements use, and dropping the schema clears them at once. UNLOGGED: a crash empties them
# (their range records included), and the ranges are staged again from the stored pages.
STAGE_FAMILY_DDL = """
CREATE UNLOGGED TABLE IF NOT EXISTS {schema}.central_stage_family (
    central_id varchar(32), kk_number varchar(16), village_id varchar(13), dusun varchar(60), rt varchar(3),
    rw varchar(3), address varchar(255), house_ownership varchar(12), floor_area_m2 integer,
    floor_type varchar(12), wall_type varchar(18), roof_type varchar(12), water_source varchar(20),
    lighting varchar(14), cooking_fuel varchar(12), toilet varchar(8),
    has_lpg_large boolean, has_refrigerator boolean, has_air_conditioner boolean, has_water_heater boolean,
    has_flat_tv boolean, has_gold boolean, has_computer boolean, has_motorcycle boolean, has_car boolean,
    has_boat boolean, has_land boolean, has_livestock boolean,
    desil smallint, period date, score numeric(8, 3), page integer, seq bigint, digest varchar(32),
    unchanged boolean)
"""
STAGE_MEMBER_DDL = """
CREATE UNLOGGED TABLE IF NOT EXISTS {schema}.central_stage_member (
    central_id varchar(32), nik varchar(16), name varchar(120), sex varchar(1), birth_place varchar(60),
    birth_date date, relationship varchar(14), education varchar(10), occupation varchar(60),
    disability varchar(12), life_status varchar(10), seq bigint)
"""
STAGE_HELD_DDL = """
CREATE UNLOGGED TABLE IF NOT EXISTS {schema}.central_stage_held (
    seq bigint, page integer, position integer, central_id varchar(32), area_code varchar(13), reasons text,
    document text)
"""
# One row per staged range, written in the range's own transaction: what is recorded here is staged.
STAGE_RANGE_DDL = """
CREATE UNLOGGED TABLE IF NOT EXISTS {schema}.central_stage_range (
    first_page integer PRIMARY KEY, last_page integer NOT NULL, rows_read integer NOT NULL,
    families integer NOT NULL, members integer NOT NULL, unchanged integer NOT NULL)
"""
# pg_advisory_xact_lock's first key: this module's locks on a batch (the second key is the batch's pk).
STAGE_LOCK = 0x5354  # "ST"
# Taken shared by every staging transaction and exclusively by whatever drops the batch's staging: a range
# held by one process (a broken page) then waits for the ranges other processes are staging instead of
# locking their tables in another order (a deadlock), and a range that comes later finds the batch held.
STAGE_DROP_LOCK = STAGE_LOCK - 2
# The page a family came on lets a clash be recorded with the centre's document as it was sent; its seq
# (page and position) ties its members to it and tells which of two families giving the same number came first.
STAGE_FAMILY_COLUMNS = [*FAMILY_COLUMNS, "desil", "period", "score", "page", "seq", "digest", "unchanged"]
STAGE_MEMBER_COLUMNS = ["central_id", *MEMBER_COLUMNS, "seq"]
STAGE_HELD_COLUMNS = ["seq", "page", "position", "central_id", "area_code", "reasons", "document"]


# Columns that may be empty (NULL); in CSV every string is quoted, so NULL must be asked for by name.
NULLABLE_STAGE_COLUMNS = {"floor_area_m2", "desil", "period", "score"}


def _copy(cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
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
            update_extra: dict[str, str], reason: str, new: NewRows | None = None) -> int:
    """Update the rows of ``model`` whose values differ from ``source`` (with audit history), then insert
    the new ones. Two plain statements instead of ON CONFLICT: PostgreSQL inserts a batch of mostly new
    rows markedly faster without speculative insertion, and the batch lock keeps writers apart.
    Returns how many rows were inserted or changed; unchanged rows are not touched. ``new``, when given,
    receives how many rows were inserted and their ids, up to ``NEW_IDS_KEPT``."""
    table = model._meta.db_table
    compared = [c for c in columns if c != key]
    assignments = ", ".join([f"{c} = x.{c}" for c in compared] + [f"{c} = {v}" for c, v in update_extra.items()])
    cursor.execute(
        f"WITH up AS (UPDATE {table} t SET {assignments} FROM ({source}) x WHERE t.{key} = x.{key} "  # nosec B608
        f"AND ({', '.join('t.' + c for c in compared)}) IS DISTINCT FROM ({', '.join('x.' + c for c in compared)}) "
        f"RETURNING t.*) {history_sql(model, 'up')}", [reason])
    changed = cursor.rowcount
    insert = (
        f"INSERT INTO {table} ({', '.join(columns + list(insert_extra))}) "  # nosec B608
        f"SELECT {', '.join(['x.' + c for c in columns] + list(insert_extra.values()))} FROM ({source}) x "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = x.{key})")
    if new is None:
        cursor.execute(insert)
        return changed + cursor.rowcount
    cursor.execute(f"WITH ins AS ({insert} RETURNING id) SELECT count(*), (array_agg(id))[1:%s] FROM ins",  # nosec B608
                   [NEW_IDS_KEPT])
    new.count, ids = cursor.fetchone()
    new.ids = list(ids or [])
    return changed + new.count


def stage_schema(batch: CentralBatch) -> str:
    """The schema holding ``batch``'s staging tables (an integer key: always a safe identifier)."""
    return f"central_stage_{int(batch.pk)}"


def page_ranges(batch: CentralBatch) -> list[tuple[int, int]]:
    """The batch's pages in ranges of ``CENTRAL_INGEST_RANGE_PAGES``: the unit one ingest task stages."""
    size = settings.CENTRAL_INGEST_RANGE_PAGES
    return [(first, min(first + size - 1, batch.page_count)) for first in range(1, batch.page_count + 1, size)]


def _prepare_stage(batch: CentralBatch) -> str:
    """Create the batch's staging schema and tables unless there: in a short transaction of its own, one
    creator at a time, so that ranges staged at once do not wait for each other."""
    schema = stage_schema(batch)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{schema}.central_stage_range"])
        if cursor.fetchone()[0] is None and _may_stage(cursor, batch):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [STAGE_LOCK, batch.pk])
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for ddl in (STAGE_FAMILY_DDL, STAGE_MEMBER_DDL, STAGE_HELD_DDL, STAGE_RANGE_DDL):
                cursor.execute(ddl.format(schema=schema))
    return schema


def _may_stage(cursor, batch: CentralBatch) -> bool:
    """Whether ``batch`` may be staged (it is not held), asked under the shared drop lock (held to the commit).
    An applied batch may be: applying it again is allowed and changes nothing."""
    cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [STAGE_DROP_LOCK, batch.pk])
    return not CentralBatch.objects.filter(pk=batch.pk, state=BatchState.QUARANTINED).exists()


def unstaged_ranges(batch: CentralBatch) -> list[tuple[int, int]]:
    """The batch's page ranges not staged yet (all of them before the first is)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{stage_schema(batch)}.central_stage_range"])
        if cursor.fetchone()[0] is None:
            return page_ranges(batch)
        cursor.execute(f"SELECT first_page FROM {stage_schema(batch)}.central_stage_range")  # nosec B608
        staged = {first for (first,) in cursor.fetchall()}
    return [r for r in page_ranges(batch) if r[0] not in staged]


def stage_range(batch: CentralBatch, first: int, last: int) -> bool:
    """Validate the stored pages ``first``..``last`` of ``batch`` and stage their rows, in one transaction.

    Any process may call it, at the same time as others for other ranges; a range already staged is left
    as it is. Returns True when this call staged the batch's last missing range (exactly one call does)."""
    validator = _Validator(batch, in_memory_duplicates=False)
    schema = _prepare_stage(batch)
    with transaction.atomic(), connection.cursor() as cursor:
        # Held meanwhile: its staging is dropped, or about to be; nothing to add.
        if not _may_stage(cursor, batch):
            return False
        cursor.execute("SELECT to_regclass(%s)", [f"{schema}.central_stage_range"])
        if cursor.fetchone()[0] is None:
            return False
        # A second copy of this range waits here, then finds it recorded.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [STAGE_LOCK + first, batch.pk])
        cursor.execute(f"SELECT 1 FROM {schema}.central_stage_range WHERE first_page = %s", [first])  # nosec B608
        if cursor.fetchone():
            return False
        totals = [0, 0, 0, 0]  # rows read, families, members, unchanged
        for chunk in _chunks(batch, validator, skip_unchanged=True, page_range=(first, last)):
            _copy(cursor, f"{schema}.central_stage_family", STAGE_FAMILY_COLUMNS, chunk.families)
            _copy(cursor, f"{schema}.central_stage_member", STAGE_MEMBER_COLUMNS, chunk.members)
            _copy(cursor, f"{schema}.central_stage_held", STAGE_HELD_COLUMNS, chunk.held)
            for i, n in enumerate((chunk.rows_read, len(chunk.families), chunk.member_count, chunk.unchanged)):
                totals[i] += n
        cursor.execute(f"INSERT INTO {schema}.central_stage_range VALUES (%s, %s, %s, %s, %s, %s)",  # nosec B608
                       [first, last, *totals])
        CentralBatch.objects.filter(pk=batch.pk).update(rows_done=F("rows_done") + totals[0])
        # The ranges finish one at a time here, each seeing the ones committed before it: one is the last.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [STAGE_LOCK - 1, batch.pk])
        cursor.execute(f"SELECT count(*) FROM {schema}.central_stage_range")  # nosec B608
        return cursor.fetchone()[0] == len(page_ranges(batch))


def stage_discard(batch: CentralBatch) -> None:
    """Drop what was staged of ``batch`` (it is held, or sent round again)."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [STAGE_DROP_LOCK, batch.pk])
            cursor.execute(f"DROP SCHEMA IF EXISTS {stage_schema(batch)} CASCADE")


def _ingest_postgresql(batch: CentralBatch) -> IngestResult:
    # Here: central.clashes builds on this module's columns.
    from .clashes import clashes_hold_sql, likely_duplicates_hold

    # Ranges no worker staged (all of them for `sync_central pull`) are staged here, in order.
    schema = _prepare_stage(batch)  # a batch without pages has no range to create it
    for first, last in unstaged_ranges(batch):
        stage_range(batch, first, last)
    result = IngestResult()
    validator = _Validator(batch, in_memory_duplicates=False)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(rows_read), 0), coalesce(sum(families), 0), "  # nosec B608
                       f"coalesce(sum(members), 0), coalesce(sum(unchanged), 0) FROM {schema}.central_stage_range")
        done, result.families, result.members, result.families_unchanged = cursor.fetchone()
        CentralBatch.objects.filter(pk=batch.pk).update(rows_total=done, rows_done=done)
        with transaction.atomic():
            # The statements below name the staging tables unqualified: the batch's schema comes first.
            cursor.execute("SELECT current_setting('search_path')")
            cursor.execute(f"SET LOCAL search_path = {schema}, {cursor.fetchone()[0]}, pg_temp")
            # The duplicate search and the joins below hash a few million keys; keep them in memory.
            cursor.execute("SET LOCAL work_mem = '128MB'")
            # The commit need not wait for its WAL to reach the disk: the batch's next state change (a normal
            # commit) flushes it, and a crash before that runs the (idempotent) ingest again.
            cursor.execute("SET LOCAL synchronous_commit = off")
            # Statistics of the staged rows (a sample, well under a second): planned blind, the joins below
            # took a million-row staging table for a hundred thousand and the round split for a few hundred.
            cursor.execute("ANALYZE central_stage_family, central_stage_member")
            twice = _hold_duplicates(cursor, batch, validator)
            result.families -= twice
            result.families_held = clashes_hold_sql(cursor, batch)
            result.rows_held = _store_held(cursor, batch)
            new = NewRows()
            result.families_changed, result.members_changed = _upsert_all(cursor, batch, new)
            result.families_similar, result.families_unchecked = likely_duplicates_hold(cursor, batch, new)
            _store_digests(cursor)
            result.rounds_created = _split_rounds(cursor, batch)
            set_rounds_calendar(batch)
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [STAGE_DROP_LOCK, batch.pk])
            cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        if result.families + result.members >= ANALYZE_AFTER_ROWS:
            # Fresh statistics for the tables the load touched: the first pages after a pull plan on them.
            cursor.execute(f"ANALYZE {Family._meta.db_table}, {Member._meta.db_table}, "
                           f"{DesilRanking._meta.db_table}, {VerificationRound._meta.db_table}, "
                           f"{RoundFamily._meta.db_table}, {FamilyDigest._meta.db_table}")
    return result


DUPLICATES_SQL = """
SELECT s.seq, 'central_id', s.central_id FROM central_stage_family s JOIN (
    SELECT central_id, min(seq) AS first FROM central_stage_family GROUP BY central_id HAVING count(*) > 1) d
    ON d.central_id = s.central_id AND s.seq > d.first
UNION ALL
SELECT s.seq, 'kk', s.kk_number FROM central_stage_family s JOIN (
    SELECT kk_number, min(seq) AS first FROM central_stage_family GROUP BY kk_number HAVING count(*) > 1) d
    ON d.kk_number = s.kk_number AND s.seq > d.first
UNION ALL
SELECT s.seq, 'nik', s.nik FROM central_stage_member s JOIN (
    SELECT nik, min(seq) AS first FROM central_stage_member GROUP BY nik HAVING count(*) > 1) d
    ON d.nik = s.nik AND s.seq > d.first
"""


def _hold_duplicates(cursor, batch: CentralBatch, validator: _Validator) -> int:
    """Hold every family giving an id, KK number or NIK that an earlier family of the batch gave (the first
    one is applied); set-based over staging. Returns how many families are held."""
    cursor.execute(DUPLICATES_SQL)
    problems: dict[int, list[str]] = {}
    for seq, kind, value in cursor.fetchall():
        message = {"central_id": _("DTSEN id %(id)s appears twice in the batch") % {"id": value},
                   "kk": _("KK number %(kk)s appears twice in the batch") % {"kk": value},
                   "nik": _("NIK %(nik)s appears twice in the batch") % {"nik": value}}[kind]
        problems.setdefault(seq, []).append(message)
    if not problems:
        return 0
    seqs = sorted(problems)
    documents = {}
    for number, body in DownloadedPage.objects.filter(
            stream=DownloadedPage.Stream.BATCH, ref=batch.batch_id,
            number__in={seq // SEQ_PAGE for seq in seqs}).values_list("number", "body").iterator(chunk_size=10):
        for position, (data, text) in enumerate(_page_families(number, body), start=1):
            if number * SEQ_PAGE + position in problems:
                documents[number * SEQ_PAGE + position] = (data, text)
    held = []
    for seq in seqs:
        data, text = documents[seq]
        held.append((seq, seq // SEQ_PAGE, seq % SEQ_PAGE, str(data.get("central_id") or "")[:32],
                     validator.area_of(data), "; ".join(problems[seq]), text.replace("\\u0000", "")))
    _copy(cursor, "central_stage_held", STAGE_HELD_COLUMNS, held)
    cursor.execute("DELETE FROM central_stage_member WHERE seq = ANY(%s)", [seqs])
    cursor.execute("DELETE FROM central_stage_family WHERE seq = ANY(%s)", [seqs])
    return len(seqs)


def _store_held(cursor, batch: CentralBatch) -> int:
    """The held rows of the batch, for Dinsos on the batch page (a second run of the batch adds nothing)."""
    cursor.execute(
        f"INSERT INTO {BatchHeldRow._meta.db_table} (batch_id, page, position, central_id, area_code, "  # nosec B608
        "reasons, document, created_at) SELECT %s, page, position, central_id, area_code, reasons, "
        "document::jsonb, now() FROM central_stage_held ORDER BY seq ON CONFLICT (batch_id, page, position) "
        "DO NOTHING", [batch.pk])
    cursor.execute("SELECT count(*) FROM central_stage_held")
    return cursor.fetchone()[0]


def _store_digests(cursor) -> None:
    """Remember the document of every family applied now, so its next unchanged publication is skipped."""
    table = FamilyDigest._meta.db_table
    cursor.execute(
        f"INSERT INTO {table} (central_id, digest) SELECT central_id, digest FROM central_stage_family "  # nosec B608
        f"WHERE NOT unchanged ON CONFLICT (central_id) DO UPDATE SET digest = EXCLUDED.digest "
        f"WHERE {table}.digest IS DISTINCT FROM EXCLUDED.digest")


def _upsert_all(cursor, batch: CentralBatch, new: NewRows) -> tuple[int, int]:
    reason = f"central batch {batch.batch_id}"
    family_table = Family._meta.db_table
    # A new family takes the batch's desil at once; an existing one keeps its own until the refresh below,
    # which follows its latest publication (the batch's may be older).
    families_changed = _upsert(
        cursor, Family, source="SELECT * FROM central_stage_family WHERE NOT unchanged", key="central_id",
        columns=FAMILY_COLUMNS,
        insert_extra={"origin": "'central'", "desil": "x.desil", "version": "1", "created_at": "now()",
                      "updated_at": "now()"},
        update_extra={"version": "t.version + 1", "updated_at": "now()"}, reason=reason, new=new)
    members_changed = _upsert(
        cursor, Member, key="nik", columns=[*MEMBER_COLUMNS, "family_id"],
        source=f"SELECT s.*, f.id AS family_id FROM central_stage_member s "  # nosec B608
               f"JOIN {family_table} f ON f.central_id = s.central_id",
        insert_extra={"updated_at": "now()"}, update_extra={"updated_at": "now()"}, reason=reason)

    ranking_table = DesilRanking._meta.db_table
    cursor.execute(
        f"INSERT INTO {ranking_table} (family_id, period, desil, score, source, created_at) "  # nosec B608
        f"SELECT f.id, s.period, s.desil, s.score, 'central', now() FROM central_stage_family s "
        f"JOIN {family_table} f ON f.central_id = s.central_id WHERE s.period IS NOT NULL AND NOT s.unchanged "
        f"ON CONFLICT (family_id, period) DO UPDATE SET desil = EXCLUDED.desil, score = EXCLUDED.score "
        f"WHERE ({ranking_table}.desil, {ranking_table}.score) IS DISTINCT FROM (EXCLUDED.desil, EXCLUDED.score)")
    refresh_current_desil_sql(cursor, f"SELECT f.id FROM central_stage_family s JOIN {family_table} f "  # nosec B608
                                      "ON f.central_id = s.central_id WHERE NOT s.unchanged")
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
    # The list's copies of each family's dusun, KK number and member names (verification 0007/0008) are
    # written here, one aggregate for the batch, so the entries' row trigger has nothing to fill one by one.
    cursor.execute(
        f"INSERT INTO {entry_table} (round_id, family_id, decision, reason, note, evidence, is_proposal, "  # nosec B608
        f"return_note, version, flagged, centre_outcome, centre_reason, family_dusun, family_kk, family_names) "
        f"SELECT r.id, f.id, '', '', '', '', false, '', 1, false, '', '', f.dusun, f.kk_number, "
        f"coalesce(n.names, '') FROM central_stage_family s "
        f"JOIN {family_table} f ON f.central_id = s.central_id "
        f"JOIN {round_table} r ON r.village_id = s.village_id AND r.batch_ref = %s "
        f"LEFT JOIN (SELECT m.family_id, string_agg(m.name, chr(10) ORDER BY m.id) AS names "
        f"FROM {Member._meta.db_table} m WHERE m.family_id IN (SELECT bf.id FROM central_stage_family bs "
        f"JOIN {family_table} bf ON bf.central_id = bs.central_id) GROUP BY m.family_id) n ON n.family_id = f.id "
        "ON CONFLICT (round_id, family_id) DO NOTHING", [batch.batch_id])
    return created


def set_rounds_calendar(batch: CentralBatch) -> None:
    """The batch's rounds take its deadline and update cycle (a batch without one: the cycle it was
    published in)."""
    published = timezone.localdate(batch.published_at) if batch.published_at else timezone.localdate()
    rounds_set_calendar(batch_ref=batch.batch_id, cycle=batch.cycle or cycle_of(published),
                        deadline=batch.deadline)


# -- Other databases: the same steps through Django's bulk upserts ----------------------------------------
def _ingest_orm(batch: CentralBatch) -> IngestResult:
    from .clashes import clashes_hold_orm

    result = IngestResult()
    families, members, held, done = [], [], [], 0
    for chunk in _chunks(batch, _Validator(batch, in_memory_duplicates=True), skip_unchanged=False):
        done += chunk.rows_read
        families.extend(chunk.families)
        members.extend(chunk.members)
        held.extend(chunk.held)
    result.families, result.members = len(families), len(members)
    with transaction.atomic():
        BatchHeldRow.objects.bulk_create(
            [BatchHeldRow(batch=batch, page=page, position=position, central_id=central_id, area_code=area,
                          reasons=reasons, document=json.loads(document))
             for _seq, page, position, central_id, area, reasons, document in held], ignore_conflicts=True)
        result.rows_held = len(held)
        families, members, result.families_held = clashes_hold_orm(batch, families, members)
        Family.objects.bulk_create(
            [Family(origin=Family.Origin.CENTRAL, **dict(zip(FAMILY_COLUMNS, row[:len(FAMILY_COLUMNS)],
                                                             strict=True))) for row in families],
            update_conflicts=True, unique_fields=["central_id"],
            update_fields=[c for c in FAMILY_COLUMNS if c != "central_id"], batch_size=2000)
        ids = dict(Family.objects.filter(central_id__in=[r[0] for r in families]).values_list("central_id", "id"))
        Member.objects.bulk_create(
            [Member(family_id=ids[row[0]], **dict(zip(MEMBER_COLUMNS, row[1:1 + len(MEMBER_COLUMNS)], strict=True)))
             for row in members],
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
    CentralBatch.objects.filter(pk=batch.pk).update(rows_total=done, rows_done=done)
    return result
