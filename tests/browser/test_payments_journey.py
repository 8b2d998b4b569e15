"""Dinsos builds the KPM list, imports the channel's payment report and reads the reconciliation."""
import datetime as dt

import pytest
import tablib
from django.contrib.auth.hashers import make_password
from playwright.sync_api import expect

from accounts.models import Role
from distribution import services
from distribution.models import Disbursement
from registry.services import demo_seed

from ..factories import UserFactory
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-bayar-123"


def test_payment_report_import_and_reconciliation(open_page, regions, tmp_path, monkeypatch):
    from dtsen_portal.celery import app

    # No worker here: the jobs run in a thread of the live server, as under `make run`.
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    UserFactory(username="dinsos", role=Role.DINSOS, area_id="12.09", password=make_password(PASSWORD))
    demo_seed(regency="12.09", households=60, seed=4, as_of=dt.date(2026, 11, 23))
    determined = services.demo_determinations_create(regency="12.09")
    page = open_page()
    log_in(page, "dinsos", PASSWORD)
    page.get_by_role("link", name="Penyaluran").click()
    page.get_by_role("button", name="Susun daftar KPM").click()
    # The job's page follows the work (it refreshes itself) to its outcome, then leads back to the period.
    expect(page.get_by_test_id("job")).to_contain_text(f"{determined} keluarga", timeout=20_000)
    shoot(page, "payments", "kpm-job")
    page.get_by_role("link", name="Kembali").click()
    expect(page.get_by_test_id("planned")).to_have_text(services.rupiah(900_000 * determined))
    shoot(page, "payments", "kpm")

    paid = list(Disbursement.objects.select_related("family").order_by("pk"))[: determined - 2]
    report = tablib.Dataset(*[(d.family.kk_number, "pos", "900000", "diterima", "") for d in paid],
                            headers=["nomor_kk", "saluran", "jumlah", "status", "alasan"])
    path = tmp_path / "laporan-pos.xlsx"
    path.write_bytes(report.export("xlsx"))
    page.locator("#id_file").set_input_files(str(path))
    page.get_by_role("button", name="Periksa berkas").click()
    expect(page.get_by_test_id("payment-preview")).to_be_visible()
    shoot(page, "payments", "preview")
    # Four eyes: the report waits for a second Dinsos account, which confirms it; the worker applies it.
    expect(page.get_by_test_id("waiting-second-account")).to_be_visible()
    expect(page.get_by_test_id("confirm-report")).to_have_count(0)
    UserFactory(username="dinsos2", role=Role.DINSOS, area_id="12.09", password=make_password(PASSWORD))
    page = open_page()
    log_in(page, "dinsos2", PASSWORD)
    page.get_by_role("link", name="Penyaluran").click()
    page.get_by_test_id("confirm-report").click()
    expect(page.get_by_role("status")).to_contain_text(f"{len(paid)} penyaluran", timeout=20_000)
    page.get_by_role("link", name="Kembali").click()
    expect(page.get_by_test_id("paid")).to_have_text(services.rupiah(900_000 * len(paid)))
    expect(page.get_by_test_id("outstanding")).to_have_text(services.rupiah(900_000 * 2))
    shoot(page, "payments", "reconciliation")
