"""State changes of the register: loading regions and recording desil rankings.

Bulk work is set-based (one read of what exists, batched inserts/updates), never one query per row,
and all-or-nothing: a bad input row stops the load before anything is written.
"""
from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from .models import Family, Region
from .validators import REGION_CODE_RE

BUNDLED_REGIONS_CSV = Path(settings.BASE_DIR) / "data" / "wilayah.csv"
BATCH_SIZE = 5000


class RegionFileError(ValueError):
    """A bad region file: the message names the row and the field."""


@dataclass
class RegionLoadResult:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    by_level: dict = field(default_factory=dict)


def _read_region_rows(path: Path, only: tuple[str, ...]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise RegionFileError(_("Cannot open region file %(path)s: %(error)s")
                              % {"path": path, "error": exc.strerror}) from None
    rows: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["code", "name"]:
            raise RegionFileError(_("Row 1: the header must be 'code,name'."))
        for line_no, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != 2:
                raise RegionFileError(_("Row %(row)d: expected 2 columns (code, name), found %(n)d.")
                                      % {"row": line_no, "n": len(row)})
            code, name = row[0].strip(), row[1].strip()
            if not REGION_CODE_RE.match(code):
                raise RegionFileError(
                    _("Row %(row)d, field 'code': %(code)s is not a region code "
                      "(PP, PP.KK, PP.KK.CC or PP.KK.CC.DDDD).") % {"row": line_no, "code": code})
            if not name:
                raise RegionFileError(_("Row %(row)d, field 'name': the name is empty.") % {"row": line_no})
            if len(name) > Region._meta.get_field("name").max_length:
                raise RegionFileError(_("Row %(row)d, field 'name': the name is longer than 100 characters.")
                                      % {"row": line_no})
            if code in seen:
                raise RegionFileError(_("Row %(row)d, field 'code': %(code)s already appears in row %(first)d.")
                                      % {"row": line_no, "code": code, "first": seen[code]})
            seen[code] = line_no
            if only and not any(code == p or code.startswith(p + ".") or p.startswith(code + ".")
                                for p in only):
                continue
            rows.append((code, name))
    return rows, seen


@transaction.atomic
def regions_load(*, path: Path | str | None = None, only: Iterable[str] = ()) -> RegionLoadResult:
    """Create or update regions from a ``code,name`` CSV; idempotent, all-or-nothing.

    ``only`` limits the load to the given region codes, their ancestors and descendants (tests and
    small demos use it to load one regency).
    """
    path = Path(path) if path else BUNDLED_REGIONS_CSV
    rows, line_of = _read_region_rows(path, tuple(only))
    codes = {code for code, _name in rows}
    existing = {r.code: r for r in Region.objects.all().only("code", "name", "level", "parent_id")}
    for code, _name in rows:
        parent = Region.parent_code_of(code)
        if parent and parent not in codes and parent not in existing:
            raise RegionFileError(
                _("Row %(row)d, field 'code': parent region %(parent)s of %(code)s is not in the file.")
                % {"row": line_of[code], "parent": parent, "code": code})

    result = RegionLoadResult(read=len(rows))
    to_create, to_update = [], []
    # Parents before children, so foreign keys hold on databases that check them immediately.
    for code, name in sorted(rows, key=lambda r: (Region.level_of(r[0]), r[0])):
        level = Region.level_of(code)
        parent = Region.parent_code_of(code)
        result.by_level[level] = result.by_level.get(level, 0) + 1
        current = existing.get(code)
        if current is None:
            to_create.append(Region(code=code, name=name, level=level, parent_id=parent))
        elif (current.name, current.level, current.parent_id) != (name, level, parent):
            current.name, current.level, current.parent_id = name, level, parent
            to_update.append(current)
        else:
            result.unchanged += 1
    Region.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    Region.objects.bulk_update(to_update, ["name", "level", "parent"], batch_size=BATCH_SIZE)
    result.created, result.updated = len(to_create), len(to_update)
    return result


@transaction.atomic
def desil_record(*, family: Family, period: dt.date, desil: int, score=None, source: str = "central"):
    """Record a family's desil for a publication period; the current desil follows the latest period."""
    from .models import DesilRanking

    ranking, _created = DesilRanking.objects.update_or_create(
        family=family, period=period, defaults={"desil": desil, "score": score, "source": source})
    latest = family.desil_rankings.order_by("-period").values_list("desil", flat=True).first()
    if family.desil != latest:
        Family.objects.filter(pk=family.pk).update(desil=latest)
        family.desil = latest
    return ranking


@dataclass
class DemoSeedResult:
    families: int
    members: int
    rankings: int
    villages: int
    removed: int
    busiest_village: str
    by_desil: dict


@transaction.atomic
def demo_seed(*, regency: str, households: int, seed: int, as_of: dt.date, periods: int = 3) -> DemoSeedResult:
    """Replace the demo families of ``regency`` with a freshly generated, deterministic population.

    Only rows marked ``origin=demo`` are removed, so real data awal in the same regency is never touched.
    Writes are bulk inserts; the families' creation is recorded once in the audit history.
    """
    from simple_history.utils import bulk_create_with_history

    from .models import DesilRanking, Member
    from .synthetic import generate_households

    if not Region.objects.filter(code=regency, level=Region.Level.REGENCY).exists():
        raise RegionFileError(_("Regency %(code)s is not loaded; run load_regions first.") % {"code": regency})
    villages = list(Region.objects.filter(code__startswith=regency + ".", level=Region.Level.VILLAGE)
                    .values_list("code", "name"))
    if not villages:
        raise RegionFileError(_("Regency %(code)s has no villages.") % {"code": regency})
    removed = _demo_remove(regency)
    # Demo ids and serials keep clear of the (mock) centre's data awal for the same villages.
    generated = generate_households(villages, households, seed, as_of=as_of, periods=periods, id_prefix="DEMO")

    family_fields = {f.name for f in Family._meta.get_fields()}
    families = [
        Family(kk_number=g.kk_number, central_id=g.central_id, origin=Family.Origin.DEMO,
               village_id=g.village_code, dusun=g.dusun, rt=g.rt, rw=g.rw, address=g.address, desil=g.desil,
               **{k: v for k, v in g.attrs.items() if k in family_fields})
        for g in generated
    ]
    bulk_create_with_history(families, Family, batch_size=BATCH_SIZE, default_change_reason="seed_demo")
    # bulk_create_with_history does not hand back primary keys on every backend: read them by KK number.
    ids = dict(Family.objects.filter(origin=Family.Origin.DEMO, village__pk__startswith=regency + ".")
               .values_list("kk_number", "id"))
    members, rankings = [], []
    for g in generated:
        family_id = ids[g.kk_number]
        members.extend(Member(family_id=family_id, **vars(m)) for m in g.members)
        rankings.extend(DesilRanking(family_id=family_id, period=period, desil=desil, score=score, source="demo")
                        for period, desil, score in g.desil_history)
    bulk_create_with_history(members, Member, batch_size=BATCH_SIZE, default_change_reason="seed_demo")
    DesilRanking.objects.bulk_create(rankings, batch_size=BATCH_SIZE)

    per_village: dict[str, int] = {}
    by_desil = dict.fromkeys(range(1, 11), 0)
    for g in generated:
        per_village[g.village_code] = per_village.get(g.village_code, 0) + 1
        by_desil[g.desil] += 1
    return DemoSeedResult(
        families=len(families), members=len(members), rankings=len(rankings), villages=len(per_village),
        removed=removed, busiest_village=max(sorted(per_village), key=per_village.get), by_desil=by_desil,
    )


def demo_busiest_village(*, regency: str) -> str | None:
    """The village of ``regency`` with the most demo families (where the demo accounts work), or None."""
    from django.db.models import Count

    row = (Family.objects.filter(origin=Family.Origin.DEMO, village__pk__startswith=regency + ".")
           .values("village_id").annotate(n=Count("pk")).order_by("-n", "village_id").first())
    return row["village_id"] if row else None


def _demo_remove(regency: str) -> int:
    """Delete the regency's demo families with everything hanging off them, set-based.

    The ORM's cascade would load every row to send delete signals (the audit history listens to them);
    demo data is throw-away, so it goes with one statement per table. Demo families that a workflow
    protects (a verification round, say) stop the reseed with a message instead.
    """
    from django.db import connection, models

    from .models import Member

    demo = Family.objects.filter(origin=Family.Origin.DEMO, village__pk__startswith=regency + ".")
    n = demo.count()
    if not n:
        return 0
    ids_sql, params = demo.values("id").query.sql_with_params()
    member_ids_sql = f"SELECT id FROM {Member._meta.db_table} WHERE family_id IN ({ids_sql})"  # noqa: S608  # nosec B608
    statements = []
    # Rows hanging off members first, then those hanging off families (members among them).
    for model, key_sql in ((Member, member_ids_sql), (Family, ids_sql)):
        for rel in model._meta.related_objects:
            if not rel.one_to_many:
                continue
            if rel.on_delete is models.PROTECT:
                lookup = f"{rel.field.name}__in" if model is Family else f"{rel.field.name}__family__in"
                if rel.related_model._default_manager.filter(**{lookup: demo}).exists():
                    raise RegionFileError(_(
                        "The demo data of %(code)s is used by %(what)s; remove those first or seed another "
                        "regency.") % {"code": regency, "what": rel.related_model._meta.verbose_name_plural})
            statements.append(_delete_sql(rel.related_model._meta.db_table, rel.field.column, key_sql))
    # Historical tables carry no foreign key constraint; the demo rows' audit history goes too.
    statements.append(_delete_sql(Member.history.model._meta.db_table, "family_id", ids_sql))
    statements.append(_delete_sql(Family.history.model._meta.db_table, "id", ids_sql))
    statements.append(_delete_sql(Family._meta.db_table, "id", ids_sql))
    with connection.cursor() as cursor:
        for statement in statements:  # each holds the demo-family subquery exactly once
            cursor.execute(statement, params)
    return n


def _delete_sql(table: str, column: str, subquery: str) -> str:
    # Table and column names come from model metadata, never from input; values stay query parameters.
    return f"DELETE FROM {table} WHERE {column} IN ({subquery})"  # noqa: S608  # nosec B608


def desil_refresh_current(family_ids) -> int:
    """Make each family's current desil its latest ranking again, after rankings were written in bulk."""
    from .models import DesilRanking

    latest: dict[int, int] = {}
    for family_id, desil in (DesilRanking.objects.filter(family_id__in=family_ids)
                             .order_by("family_id", "-period").values_list("family_id", "desil")):
        latest.setdefault(family_id, desil)
    return Family.objects.bulk_update([Family(pk=pk, desil=d) for pk, d in latest.items()], ["desil"],
                                      batch_size=BATCH_SIZE)


def duplicate_scan_run(*, actor, region: str, job_id: int, progress=None) -> int:
    """Scan a regency (``region``) for likely duplicate families and keep the pairs with the scan's job; returns
    how many. Dinsos of that regency or an administrator only, checked when the worker runs it. A scan run
    again (a task delivered twice) replaces its pairs."""
    from accounts.scope import user_covers_code
    from dtsen_portal.errors import NotAllowed

    from . import duplicates
    from .models import DuplicatePair

    allowed = actor.is_administrator or (actor.role == "dinsos" and user_covers_code(actor, region))
    if not allowed or not Region.objects.filter(code=region, level=Region.Level.REGENCY).exists():
        raise NotAllowed(_("Only Dinas Sosial of the regency can scan it for duplicates."))
    pairs = duplicates.regency_scan(region, progress=progress)
    with transaction.atomic():
        from jobs.models import Job

        # A task delivered twice may run two scans of one job at once: their writes take turns, the last wins.
        Job.objects.select_for_update().filter(pk=job_id).first()
        DuplicatePair.objects.filter(job_id=job_id).delete()
        DuplicatePair.objects.bulk_create(
            [DuplicatePair(job_id=job_id, family_a_id=p.family_a, family_b_id=p.family_b, likelihood=p.likelihood,
                           reasons=list(p.reasons)) for p in pairs], batch_size=5000)
    return len(pairs)
