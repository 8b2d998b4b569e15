"""A real streaming replica: a second PostgreSQL cluster (``pg_basebackup -R`` of a primary started here), the
portal run in its own process with DATABASE_URL on the primary and REPLICA_DATABASE_URL on the replica.

The replica's replay is paused on purpose, so a row written afterwards exists only on the primary: Cek Bansos
then does not find it (it read the replica) until replay resumes, while the export's audit row, a citizen's
report and its status page all go to the primary. A write aimed at the replica fails, as any misrouted write
would. Needs the PostgreSQL server binaries (``.ci/run`` installs them); without them the test says so loudly
and, in CI, fails instead of skipping.
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MISSING = ("PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup under /usr/lib/postgresql/*/bin) not found: "
           "THE READ-REPLICA TEST DID NOT RUN. Install the postgresql package.")


def _bin_dir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name),
                            reverse=True):
        if all((Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")):
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_basebackup") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clusters:
    """A primary and its streaming replica in a temporary directory, owned by ``postgres`` when run as root
    (PostgreSQL refuses to run as root)."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="dtsen-replica-"))
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.primary_port, self.replica_port = _free_port(), _free_port()
        self.started = []

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bindir / tool), *args],  # noqa: S603 - fixed tools
                              capture_output=True, text=True, timeout=60, cwd=self.base)
        assert done.returncode == 0, f"{tool} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}"

    def _start(self, name: str, port: int) -> None:
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off "
                   "-c full_page_writes=off -c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.base / name), "-o", options, "-l", str(self.base / f"{name}.log"),
                  "-w", "-t", "30", "start")
        self.started.append(name)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.base / "primary"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self._start("primary", self.primary_port)
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-D", str(self.base / "replica"), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        self._start("replica", self.replica_port)

    def stop(self) -> None:
        for name in reversed(self.started):
            subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.base / name),  # noqa: S603
                            "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/dtsen"


@pytest.fixture(scope="module")
def clusters():
    bindir = _bin_dir()
    if bindir is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    pair = Clusters(bindir)
    try:
        pair.start()
        pair._run("createdb" if (bindir / "createdb").exists() else "psql", *(
            ["-h", "127.0.0.1", "-p", str(pair.primary_port), "-U", "postgres", "dtsen"]
            if (bindir / "createdb").exists() else
            ["-h", "127.0.0.1", "-p", str(pair.primary_port), "-U", "postgres", "-c", "CREATE DATABASE dtsen"]))
        yield pair
    finally:
        pair.stop()


@pytest.mark.integration
def test_marked_pages_read_the_replica_and_writes_never_go_there(clusters):
    env = {**os.environ, "DATABASE_URL": clusters.url(clusters.primary_port),
           "REPLICA_DATABASE_URL": clusters.url(clusters.replica_port),
           "CACHE_URL": "locmemcache://", "CELERY_BROKER_URL": "", "CELERY_TASK_ALWAYS_EAGER": "1"}
    done = subprocess.run([sys.executable, "-m", "tests.replica_probe"],  # noqa: S603 - our own interpreter
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    shown = json.dumps(found)

    assert found["recovery"] == {"default": False, "replica": True}  # the alias really is a standby
    old = found["cek_bansos_old_row"]
    assert old["results"] == 1 and old["member_reads_on_replica"] and not old["member_reads_on_primary"], shown
    # Written after replay was paused: on the primary, not on the replica, so Cek Bansos read the replica.
    new = found["cek_bansos_new_row"]
    assert new["on_primary"] and new["results"] == 0, shown
    assert found["cek_bansos_new_row_after_resume"] == 1

    export = found["export"]
    # The list's rows are read while it is streamed, on the replica: the family approved before replay was
    # paused is in it, the one approved after (on the primary only) is not.
    assert export["status"] == 200 and export["round_reads_on_replica"] and export["lines"] == 2, shown
    assert export["has_family_before_pause"] and not export["has_family_after_pause"], shown
    assert export["audit_rows_added"] == 1 and export["writes_on_primary"] >= 1

    assert found["report_status"] == {"submitted": 302, "status": 200, "found": True, "replica_queries": 0}
    assert found["atomic_reads_primary"] is True
    assert "read-only" in found["write_on_replica"]
    for step in ("cek_bansos_old_row", "cek_bansos_new_row", "export"):
        assert found[step]["writes_on_replica"] == [], step
