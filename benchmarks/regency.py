"""A large regency written straight into the register for the page, search and export figures.

The ingest figures build their regency through the mock centre and ``ingest_batch``; the figures about
reading need the same shape of data quickly and repeatably, so this COPYs generated households (the
project's own ``registry.synthetic``, in chunks so memory stays flat) and makes one round per village in a
spread of states: three in four approved with every family decided (eligible when desil 1-4), one in eight
submitted and waiting for Dinsos, one in eight open with half of its families decided. Villages keep the
uneven sizes the generator gives them (the largest hold about 1.5x the average).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import random
import time

from django.db import connection

from central.ingest import ATTR_FIELDS
from registry.models import DesilRanking, Family, Member, Region
from registry.services import regions_load
from registry.synthetic import generate_households
from verification.models import RoundFamily, VerificationRound

REGENCY = "12.09"
BATCH_REF = "12.09-PKH-BENCH"
CHUNK = 25_000
AS_OF = dt.date(2026, 11, 23)


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)


def villages() -> list[str]:
    regions_load(only=(REGENCY,))
    return list(Region.objects.filter(code__startswith=REGENCY + ".", level=Region.Level.VILLAGE)
                .order_by("code").values_list("code", flat=True))


def build(families: int, *, seed: int = 2025, log=print) -> dict:
    """Write ``families`` families (about four members each) with rankings, rounds and decisions; returns
    counts. The register's tables are expected empty (a scratch database)."""
    started = time.monotonic()
    codes = villages()
    rng = random.Random(seed)
    weights = [0.5 + rng.random() for _ in codes]
    family_columns = ["id", "kk_number", "central_id", "origin", "village_id", "dusun", "rt", "rw", "address",
                      *ATTR_FIELDS, "desil", "version", "created_at", "updated_at"]
    member_columns = ["family_id", "nik", "name", "sex", "birth_place", "birth_date", "relationship", "education",
                      "occupation", "disability", "life_status", "updated_at"]
    now = dt.datetime.now(dt.UTC).isoformat()
    family_id, members = 0, 0
    pairs = [(c, c) for c in codes]
    with connection.cursor() as cursor:
        for chunk, start in enumerate(range(0, families, CHUNK)):
            size = min(CHUNK, families - start)
            generated = generate_households(pairs, size, seed + chunk, as_of=AS_OF, periods=1,
                                            serial_base=chunk * 200)
            family_rows, member_rows, ranking_rows = [], [], []
            for f in generated:
                family_id += 1
                village = rng.choices(codes, weights=weights)[0]
                family_rows.append((family_id, f.kk_number, f.central_id, "central", village, f.dusun, f.rt, f.rw,
                                    f.address, *(f.attrs[a] for a in ATTR_FIELDS), f.desil, 1, now, now))
                for m in f.members:
                    member_rows.append((family_id, m.nik, m.name, m.sex, m.birth_place, m.birth_date.isoformat(),
                                        m.relationship, m.education, m.occupation, m.disability, m.life_status,
                                        now))
                period, desil, score = f.desil_history[-1]
                ranking_rows.append((family_id, period.isoformat(), desil, score, "central", now))
            members += len(member_rows)
            _copy(cursor, Family._meta.db_table, family_columns, family_rows)
            _copy(cursor, Member._meta.db_table, member_columns, member_rows)
            _copy(cursor, DesilRanking._meta.db_table, ["family_id", "period", "desil", "score", "source",
                                                        "created_at"], ranking_rows)
            if chunk % 8 == 0:
                log(f"  register: {family_id:,} families", flush=True)
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{Family._meta.db_table}', 'id'), %s)", [family_id])
        # Planned without statistics, the join of a million families with their members' names is a nested
        # loop that never ends; the ingest ANALYZEs after its load for the same reason.
        cursor.execute(f"ANALYZE {Family._meta.db_table}, {Member._meta.db_table}")
        rounds_build(cursor)
        cursor.execute("ANALYZE")
    log(f"  regency of {family_id:,} families, {members:,} members in {time.monotonic() - started:.0f}s",
        flush=True)
    return {"families": family_id, "members": members}


def rounds_build(cursor) -> None:
    """One round per village; its state and decisions follow the village's place in the list (see above)."""
    round_table, entry_table = VerificationRound._meta.db_table, RoundFamily._meta.db_table
    family_table = Family._meta.db_table
    cursor.execute(
        f"INSERT INTO {round_table} (public_id, village_id, batch_ref, programme, state, return_note, created_at, "
        "state_changed_at) SELECT gen_random_uuid(), v.code, %s, 'PKH', "
        "CASE WHEN v.n %% 8 < 6 THEN 'approved' WHEN v.n %% 8 = 6 THEN 'submitted' ELSE 'open' END, '', now(), now() "
        "FROM (SELECT code, row_number() OVER (ORDER BY code) - 1 AS n FROM registry_region "
        "      WHERE code LIKE %s AND level = 4) v", [BATCH_REF, REGENCY + ".%"])
    cursor.execute(
        f"INSERT INTO {entry_table} (round_id, family_id, decision, reason, note, evidence, is_proposal, "
        "return_note, version, flagged, centre_outcome, centre_reason, decided_at, family_dusun, family_kk, "
        "family_names) "
        "SELECT r.id, f.id, d.decision, CASE WHEN d.decision = 'not_eligible' THEN 'well_off' ELSE '' END, "
        "'', '', false, '', 1, false, '', '', CASE WHEN d.decision = '' THEN NULL ELSE now() END, f.dusun, "
        "f.kk_number, coalesce(m.names, '') "
        f"FROM {family_table} f JOIN {round_table} r ON r.village_id = f.village_id AND r.batch_ref = %s "
        "LEFT JOIN (SELECT family_id, string_agg(name, chr(10) ORDER BY id) AS names FROM registry_member "
        "           GROUP BY family_id) m ON m.family_id = f.id "
        "CROSS JOIN LATERAL (SELECT CASE WHEN r.state = 'open' AND f.id %% 2 = 0 THEN '' "
        "  WHEN f.desil <= 4 THEN 'eligible' ELSE 'not_eligible' END AS decision) d", [BATCH_REF])


def reset() -> None:
    """Empty the register, rounds and what hangs off them (earlier sections leave their own data)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND (tablename LIKE 'registry_%%' "
                       "OR tablename LIKE 'verification_%%' OR tablename LIKE 'central_%%' OR tablename LIKE "
                       "'groundcheck_%%') AND tablename <> 'registry_region'")
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
