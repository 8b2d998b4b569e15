"""A real Celery worker process on Redis, pointed at the test database and a mock central."""
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def broker_url() -> str:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but CELERY_BROKER_URL is not Redis")
        pytest.skip("needs a Redis broker (CELERY_BROKER_URL=redis://...; CI sets it)")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...; CI sets it)")
    return url


class Worker:
    def __init__(self, process: subprocess.Popen, queue: str, log: Path):
        self.process, self.queue, self.log = process, queue, log

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_worker(log_dir: Path, central_url: str, token: str, *, extra_env: dict | None = None,
                 queue: str = "") -> Worker:
    """A worker on its own queue (or on ``queue``, shared with other workers started with it)."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url(),
           "CELERY_TASK_DEFAULT_QUEUE": queue, "CENTRAL_API_URL": central_url, "CENTRAL_API_TOKEN": token,
           "CENTRAL_API_TIMEOUT": "1", "DJANGO_SECRET_KEY": "worker-test-secret", "DJANGO_DEBUG": "0",
           **(extra_env or {})}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    log = log_dir / f"worker-{queue}-{uuid.uuid4().hex[:6]}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dtsen_portal", "worker", "-Q", queue, "-c", "2",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in log.read_text(errors="replace"):
            return Worker(process, queue, log)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"celery worker did not start:\n{log.read_text(errors='replace')[-3000:]}")


def wait_for(condition, *, timeout: float = 120, what: str = "condition", worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    tail = worker.log.read_text(errors="replace")[-4000:] if worker else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def kick_until(send, condition, *, worker: Worker, what: str, timeout: float = 120, every: float = 3):
    """Send a task again every few seconds until ``condition`` holds, as the beat schedule would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        send()
        tick = time.monotonic() + every
        while time.monotonic() < min(tick, deadline):
            if condition():
                return
            time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}\n{worker.log.read_text(errors='replace')[-4000:]}")
