"""Run by test_read_replica.py in its own process, with DATABASE_URL on a primary and REPLICA_DATABASE_URL on its
streaming replica: migrates, writes a few rows, pauses the replica's replay so that it lags on purpose, and asks
the real pages through Django's test client which database answered. Prints one JSON object of findings."""
import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtsen_portal.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

WRITES = ("INSERT", "UPDATE", "DELETE")


def _one(alias: str, sql: str):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _replica_caught_up(timeout: float = 20) -> None:
    target = _one("default", "SELECT pg_current_wal_insert_lsn()::text")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise SystemExit("the replica did not catch up within 20 s")


def _recipient(name: str, serial: int) -> None:
    from distribution.models import Determination
    from tests.factories import VILLAGE, FamilyFactory, MemberFactory

    family = FamilyFactory()
    MemberFactory(family=family, name=name)
    Determination.objects.create(determination_id=f"D-R{serial}", central_id="X", family=family, village_id=VILLAGE,
                                 programme="BLTS-KESRA", period="2025-10")


def _approved_family() -> str:
    """A round approved with one eligible family, as the approved list shows it; returns the family's KK."""
    from tests.factories import round_with_families
    from verification.models import RoundFamily, VerificationRound

    round_ = round_with_families(1)
    RoundFamily.objects.filter(round=round_).update(decision=RoundFamily.Decision.ELIGIBLE)
    VerificationRound.objects.filter(pk=round_.pk).update(state="approved")
    return round_.entries.get().family.kk_number


def _search(client, name: str) -> tuple[int, CaptureQueriesContext, CaptureQueriesContext]:
    from tests.factories import KECAMATAN, REGENCY, VILLAGE

    place = {"province": REGENCY[:2], "regency": REGENCY, "kecamatan": KECAMATAN, "village": VILLAGE}
    with CaptureQueriesContext(connections["default"]) as on_primary, \
            CaptureQueriesContext(connections["replica"]) as on_replica:
        response = client.get(reverse("cek-bansos"), {**place, "name": name})
    assert response.status_code == 200, response.status_code
    assert response.context["searched"], response.context["search"].errors
    return len(response.context["results"]), on_primary, on_replica


def _tables(queries: CaptureQueriesContext) -> str:
    return " ".join(q["sql"] for q in queries.captured_queries)


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"][:80] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]


def main() -> dict:
    from accounts.models import Role
    from privacy.models import PersonalDataAccess
    from registry.models import Member
    from registry.services import regions_load
    from tests.factories import REGENCY, VILLAGE, UserFactory, client_for

    setup_test_environment()  # response.context for the assertions below
    # As in conftest.py: templates render without collectstatic's manifest.
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
    call_command("migrate", verbosity=0)
    regions_load(only=(REGENCY,))
    _recipient("SITI AMINAH", 1)
    kk_before_pause = _approved_family()
    _replica_caught_up()
    found = {"recovery": {alias: _one(alias, "SELECT pg_is_in_recovery()") for alias in ("default", "replica")}}

    # The replica stops replaying: from here on, a row written on the primary is not on the replica.
    _one("replica", "SELECT pg_wal_replay_pause()::text")
    while _one("replica", "SELECT pg_get_wal_replay_pause_state()") != "paused":
        time.sleep(0.05)
    _recipient("BUDI SANTOSO", 2)
    kk_after_pause = _approved_family()

    from django.test import Client

    public = Client()
    seen, primary, replica = _search(public, "SITI AMINAH")
    found["cek_bansos_old_row"] = {"results": seen, "member_reads_on_replica": "registry_member" in _tables(replica),
                                   "member_reads_on_primary": "registry_member" in _tables(primary),
                                   "writes_on_replica": _writes(replica)}
    seen, primary, replica = _search(public, "BUDI SANTOSO")
    found["cek_bansos_new_row"] = {"results": seen, "on_primary": Member.objects.filter(name="BUDI SANTOSO").exists(),
                                   "writes_on_replica": _writes(replica)}

    # A marked page that writes: the export's audit row goes to the primary while the page reads the replica.
    dinsos = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    before = PersonalDataAccess.objects.count()
    with CaptureQueriesContext(connections["default"]) as on_primary, \
            CaptureQueriesContext(connections["replica"]) as on_replica:
        response = client_for(dinsos).get(reverse("approved-export", args=["csv"]))
        # The list is streamed: its rows are read while it is sent, so read it all inside the capture.
        body = b"".join(response.streaming_content) if response.streaming else response.content
    found["export"] = {"status": response.status_code, "audit_rows_added": PersonalDataAccess.objects.count() - before,
                       "writes_on_primary": len(_writes(on_primary)), "writes_on_replica": _writes(on_replica),
                       "round_reads_on_replica": "verification_roundfamily" in _tables(on_replica),
                       "lines": body.count(b"\n"), "has_family_before_pause": kk_before_pause.encode() in body,
                       "has_family_after_pause": kk_after_pause.encode() in body}

    # A page that is not marked reads the primary: a report submitted now is found at once, replica paused or not.
    report = public.post(reverse("cek-bansos-report"), {
        "kind": "usulan", "village": VILLAGE, "subject_name": "Warga Baru", "reason": "Belum terdata",
        "reporter_name": "Tetangga", "website": ""})
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        status = public.get(report["Location"])
    found["report_status"] = {"submitted": report.status_code, "status": status.status_code,
                              "found": status.context["report"] is not None, "replica_queries": len(on_replica)}

    # Reads inside a transaction on the primary stay there even in a marked block.
    from dtsen_portal.db_routers import replica_reads

    with replica_reads(), transaction.atomic():
        found["atomic_reads_primary"] = Member.objects.filter(name="BUDI SANTOSO").exists()

    # A write aimed at the replica fails: it is a hot standby.
    try:
        Member.objects.using("replica").filter(name="SITI AMINAH").update(name="X")
        found["write_on_replica"] = "accepted"
    except Exception as exc:  # noqa: BLE001 - the standby's error is the finding
        found["write_on_replica"] = str(exc).splitlines()[0]

    _one("replica", "SELECT pg_wal_replay_resume()::text")
    _replica_caught_up()
    found["cek_bansos_new_row_after_resume"] = _search(public, "BUDI SANTOSO")[0]
    return found


if __name__ == "__main__":
    result = main()
    sys.stdout.write(json.dumps(result) + "\n")
