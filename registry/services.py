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
