"""The mock central service as a real separate process, for tests: start, talk to, stop."""
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t"
START_TIMEOUT = 60
NO_FAULTS = {"fail_rate": 0, "timeout_rate": 0, "drop_rate": 0, "duplicate_rate": 0, "latency_ms": 0,
             "hang_seconds": 10}


class Mock:
    """A running mock central process and a small client for it."""

    def __init__(self, process: subprocess.Popen, base_url: str, log: Path):
        self.process, self.base_url, self.log = process, base_url, log
        self.headers = {"Authorization": f"Bearer {TOKEN}"}

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.base_url + path, headers=self.headers, timeout=kwargs.pop("timeout", 10), **kwargs)

    def ok(self, method: str, path: str, **kwargs) -> dict:
        response = requests.request(method, self.base_url + path, headers={**self.headers, **kwargs.pop(
            "headers", {})}, timeout=10, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def submit(self, key: str | None, body: dict) -> requests.Response:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return requests.post(self.base_url + "/v1/submissions", json=body, headers=headers, timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_mock(data_dir: Path, *extra: str) -> Mock:
    port = _free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"mock-{port}.log"  # one log per start: a restart must not find the last "listening"
    env = {**os.environ, "DJANGO_SECRET_KEY": "mock-central-test-secret", "DJANGO_DEBUG": "0"}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_mock_central", "--port", str(port), "--data-dir", str(data_dir),
             "--token", TOKEN, *extra], cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        match = re.search(r"mock central listening on (http://\S+)", log.read_text(errors="replace"))
        if match:
            return Mock(process, match.group(1), log)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"mock central did not start:\n{log.read_text(errors='replace')}")


