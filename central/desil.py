"""Applying the centre's monthly desil publication: every family's new desil, set-based.

Pages are stored as they arrive (a restart resumes), the publication's checksum is checked over all
pages, then the rankings are upserted in one statement and each family's current desil follows its
latest publication. Applying the same publication again changes nothing.
"""
from __future__ import annotations

import csv
import io
import json

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import DesilRanking, Family
from registry.services import desil_refresh_current

from .client import CentralClient
from .ingest import BatchRejected, refresh_current_desil_sql
from .models import DesilPublication, DownloadedPage
from .protocol import combined_checksum


def _download(publication: DesilPublication, client: CentralClient) -> list[dict]:
    ref = publication.period.isoformat()
    pages = DownloadedPage.objects.filter(stream=DownloadedPage.Stream.DESIL, ref=ref)
    have = set(pages.values_list("number", flat=True))
    for number in range(1, publication.page_count + 1):
        if number not in have:
            page = client.desil_page(ref, number)
            DownloadedPage.for_rows(stream=DownloadedPage.Stream.DESIL, ref=ref, number=number,
                                    checksum=page["checksum"], rows=page["rows"]).save_once()
    stored = list(pages.order_by("number").values_list("checksum", "body"))
    if combined_checksum([c for c, _body in stored]) != publication.checksum:
        raise BatchRejected(_("The downloaded pages do not add up to the publication checksum."))
    rows = [row for _c, body in stored for row in json.loads(body)]
    bad = [r for r in rows if not (isinstance(r.get("desil"), int) and 1 <= r["desil"] <= 10)]
    if bad:
        raise BatchRejected(_("%(n)d rows have a desil outside 1-10, first: %(row)s") % {"n": len(bad), "row": bad[0]})
    return rows


def apply_publication(*, publication: DesilPublication, client: CentralClient) -> int:
    """Download (resuming) and apply one publication; returns how many of the portal's families it ranked."""
    rows = _download(publication, client)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ranked = _apply_postgresql(publication, rows)
        else:
            ranked = _apply_orm(publication, rows)
        DesilPublication.objects.filter(pk=publication.pk).update(
            state=DesilPublication.State.APPLIED, rows_applied=ranked, applied_at=timezone.now(), last_error="")
    return ranked


def _apply_postgresql(publication: DesilPublication, rows: list[dict]) -> int:
    family_table, ranking_table = Family._meta.db_table, DesilRanking._meta.db_table
    buffer = io.StringIO()
    csv.writer(buffer).writerows((r["central_id"], r["desil"], r.get("score")) for r in rows)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS central_stage_desil "
                       "(central_id varchar(32), desil smallint, score numeric(8, 3))")
        cursor.execute("TRUNCATE central_stage_desil")
        cursor.copy_expert("COPY central_stage_desil (central_id, desil, score) FROM STDIN WITH (FORMAT csv)", buffer)
        cursor.execute(
            f"INSERT INTO {ranking_table} (family_id, period, desil, score, source, created_at) "
            f"SELECT f.id, %s, s.desil, s.score, 'central', now() FROM central_stage_desil s "
            f"JOIN {family_table} f ON f.central_id = s.central_id "
            f"ON CONFLICT (family_id, period) DO UPDATE SET desil = EXCLUDED.desil, score = EXCLUDED.score "
            f"WHERE ({ranking_table}.desil, {ranking_table}.score) IS DISTINCT FROM (EXCLUDED.desil, EXCLUDED.score)",
            [publication.period])
        cursor.execute(f"SELECT count(*) FROM central_stage_desil s JOIN {family_table} f "
                       "ON f.central_id = s.central_id")
        ranked = cursor.fetchone()[0]
        refresh_current_desil_sql(cursor, f"SELECT f.id FROM central_stage_desil s JOIN {family_table} f "
                                          "ON f.central_id = s.central_id")
        cursor.execute("TRUNCATE central_stage_desil")
    return ranked


def _apply_orm(publication: DesilPublication, rows: list[dict]) -> int:
    ids = dict(Family.objects.filter(central_id__in=[r["central_id"] for r in rows]).values_list("central_id", "id"))
    rankings = [DesilRanking(family_id=ids[r["central_id"]], period=publication.period, desil=r["desil"],
                             score=r.get("score"), source="central") for r in rows if r["central_id"] in ids]
    DesilRanking.objects.bulk_create(rankings, update_conflicts=True, unique_fields=["family", "period"],
                                     update_fields=["desil", "score"], batch_size=2000)
    desil_refresh_current(list(ids.values()))
    return len(rankings)
