"""Headless Chromium (the OS package, never a downloaded browser) driven by Playwright against live_server."""
import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no chromium: browser journeys must run (apt-get install chromium).")
        pytest.skip("no chromium on this machine (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def shoot(page, journey: str, step: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{journey}-{step}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def open_page(browser, live_server):
    contexts = []

    def factory(*, phone: bool = False):
        options = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True} if phone \
            else {"viewport": {"width": 1280, "height": 900}}
        context = browser.new_context(base_url=live_server.url, locale="id-ID", **options)
        contexts.append(context)
        page = context.new_page()
        # The Content-Security-Policy (issue 13) blocks inline scripts and styles; a page that still has one
        # would lose behaviour silently, so every journey fails on a violation instead.
        page.on("console", lambda message: "Content Security Policy" in message.text
                and violations.append(f"{page.url}: {message.text}"))
        return page

    violations = []
    yield factory
    for context in contexts:
        context.close()
    assert violations == [], "\n".join(violations)


def log_in(page, username: str, password: str):
    page.goto("/akun/masuk/")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/")


DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 - a test fixture


@pytest.fixture
def demo(regions):
    """The demo regency of `make run` (small), every role's account with DEMO_PASSWORD: (its operator's round, a
    decided family of it, a finished background job of Dinsos)."""
    import io

    from django.core.management import call_command

    from accounts.models import User
    from jobs.models import Job
    from verification.models import RoundFamily, VerificationRound

    call_command("seed_demo", regency="12.72", households=60, seed=5, password=DEMO_PASSWORD, stdout=io.StringIO())
    operator = User.objects.get(username="operator")
    round_ = VerificationRound.objects.get(village_id=operator.area_id)
    entry = round_.entries.order_by("pk").first()
    # A decided family, so its decision's label (and any leaked code) is on the pages too.
    RoundFamily.objects.filter(pk=entry.pk).update(decision=RoundFamily.Decision.NOT_ELIGIBLE, reason="well_off")
    job = Job.objects.create(user=User.objects.get(username="dinsos"), kind=Job.Kind.KPM_BUILD, target="period:1",
                             state=Job.State.DONE, count=1200)
    return round_, entry, job
