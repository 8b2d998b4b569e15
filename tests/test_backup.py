"""`make backup` / `make restore`: a backup restored into a fresh database holds every family, decision,
ground-check visit and audit record, and the uploaded files come back."""
import datetime as dt
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.db import connection
from psycopg2 import sql

from accounts.models import Role
from groundcheck import services as groundcheck
from groundcheck.models import Visit
from registry.models import Family
from verification import services as verval
from verification.models import RoundFamily

from .factories import KECAMATAN, VILLAGE, UserFactory
from .factories import round_with_families as make_round

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _url(name: str) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _admin_connection():
    db = connection.settings_dict
    conn = psycopg2.connect(dbname="postgres", user=db["USER"], password=db.get("PASSWORD") or None,
                            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432)
    conn.autocommit = True
    return conn


@pytest.fixture
def fresh_database():
    name = f"restore_{uuid.uuid4().hex[:10]}"
    admin = _admin_connection()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield name
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _make(target: str, env: dict) -> str:
    result = subprocess.run(["make", "-s", target], cwd=PROJECT_ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_backup_restored_into_a_fresh_database_holds_every_family_decision_visit_and_audit_record(
        regions, tmp_path, fresh_database):
    if connection.vendor != "postgresql" or not shutil.which("pg_dump"):
        pytest.skip("needs PostgreSQL and its client tools (pg_dump, pg_restore)")
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    round_ = make_round(3)
    for entry in round_.entries.all():
        verval.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                            note="Dicek bersama RT", expected_version=entry.version)
    entry = round_.entries.first()
    verval.family_correct(actor=operator, round_id=round_.pk, entry_id=entry.pk, changes={"rt": "009"},
                          expected_version=RoundFamily.objects.get(pk=entry.pk).version)  # an audited change
    assignment = groundcheck.assignment_create(actor=UserFactory(role=Role.DINSOS, area_id="12.09"),
                                               family_id=entry.family_id, facilitator_id=facilitator.pk, note="")
    visit, _ = groundcheck.visit_record(
        actor=facilitator, assignment_id=assignment.pk, client_uuid=uuid.uuid4(),
        visited_at=dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC), checklist={"floor_type": "earth"},
        findings="Sesuai", recommendation="continue")
    families = set(Family.objects.values_list("pk", flat=True))
    decisions = set(RoundFamily.objects.exclude(decision="").values_list("pk", "decision"))
    visits = {visit.pk}
    audit = set(Family.history.values_list("history_id", flat=True))
    assert len(families) == 3 and len(decisions) == 3 and len(audit) > 3
    media = tmp_path / "media"
    (media / "bukti").mkdir(parents=True)
    (media / "bukti" / "foto.jpg").write_bytes(b"\xff\xd8 photo")

    env = {"BACKUP_DIR": str(tmp_path / "backups"), "DJANGO_MEDIA_ROOT": str(media),
           "DATABASE_URL": _url(connection.settings_dict["NAME"])}
    _make("backup", env)
    dumps = sorted((tmp_path / "backups").glob("*.dump"))
    assert len(dumps) == 1 and dumps[0].with_name(dumps[0].name.replace(".dump", ".media.tar.gz")).exists()

    shutil.rmtree(media)
    _make("restore", {**env, "DATABASE_URL": _url(fresh_database), "BACKUP_FILE": str(dumps[0])})
    assert (media / "bukti" / "foto.jpg").read_bytes() == b"\xff\xd8 photo"
    db = connection.settings_dict
    restored = psycopg2.connect(dbname=fresh_database, user=db["USER"], password=db.get("PASSWORD") or None,
                                host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432)
    try:
        with restored.cursor() as cursor:
            def rows(table: str, columns: str, where: str = "", params=()) -> set:
                cursor.execute(sql.SQL("SELECT {} FROM {} " + where).format(  # noqa: S608 - names, not input
                    sql.SQL(columns), sql.Identifier(table)), params)
                return set(cursor.fetchall())

            assert {pk for (pk,) in rows(Family._meta.db_table, "id")} == families
            assert rows(RoundFamily._meta.db_table, "id, decision", "WHERE decision <> ''") == decisions
            assert {pk for (pk,) in rows(Visit._meta.db_table, "id")} == visits
            assert {pk for (pk,) in rows(Family.history.model._meta.db_table, "history_id")} == audit
            assert rows(Family._meta.db_table, "rt", "WHERE id = %s", [entry.family_id]) == {("009",)}
    finally:
        restored.close()
