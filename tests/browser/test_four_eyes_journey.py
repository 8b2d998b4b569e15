"""Four eyes at 360 px: one Dinsos account checks a channel's payment report, which waits; it cannot confirm its
own; a second Dinsos account of the regency reviews the summary and confirms; the worker applies it."""
import pytest
import tablib
from django.contrib.auth.hashers import make_password
from playwright.sync_api import expect

from accounts.models import Role
from distribution import services
from distribution.models import Determination, Disbursement, PaymentPeriod

from ..factories import VILLAGE, FamilyFactory, UserFactory, village
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "uji-empat-mata-123"
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_a_payment_report_is_confirmed_by_a_second_dinsos_account_at_360px(open_page, regions, tmp_path,
                                                                            monkeypatch):
    from dtsen_portal.celery import app

    # No worker here: the job runs in a thread of the live server, as under `make run`.
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    first = UserFactory(username="dinsos-siapkan", first_name="Rina", role=Role.DINSOS, area_id="12.09",
                        password=make_password(PASSWORD))
    UserFactory(username="dinsos-periksa", first_name="Budi", role=Role.DINSOS, area_id="12.09",
                password=make_password(PASSWORD))
    period = PaymentPeriod.objects.get(programme_id="BLTS-KESRA", code="2025-T4")
    for i in range(4):
        family = FamilyFactory(village=village(VILLAGE))
        Determination.objects.create(determination_id=f"E-{family.pk}-{i}", central_id=f"C{family.pk}",
                                     family=family, village_id=VILLAGE, programme="BLTS-KESRA", period="2025-10")
    services.kpm_build(actor=first, period_id=period.pk)
    report = tablib.Dataset(*[(d.family.kk_number, "pos", "900000", "diterima", "")
                              for d in Disbursement.objects.select_related("family")],
                            headers=["nomor_kk", "saluran", "jumlah", "status", "alasan"])
    path = tmp_path / "laporan-pos.csv"
    path.write_text(report.export("csv"))

    page = open_page(phone=True)
    log_in(page, "dinsos-siapkan", PASSWORD)
    page.goto(f"/bansos/?period={period.pk}")
    page.locator("#id_file").set_input_files(str(path))
    page.get_by_role("button", name="Periksa berkas").click()
    waiting = page.get_by_test_id("waiting-second-account")
    expect(waiting).to_be_visible()
    expect(page.get_by_test_id("confirm-report")).to_have_count(0)
    assert page.evaluate(OVERFLOW) <= 0
    shoot(page, "ux-dinsos-four-eyes", "1-prepared-waiting")

    second = open_page(phone=True)
    log_in(second, "dinsos-periksa", PASSWORD)
    second.goto(f"/bansos/?period={period.pk}")
    reports = second.get_by_test_id("payment-reports")
    expect(reports).to_contain_text("Rina")
    expect(reports).to_contain_text(services.rupiah(4 * 900_000))
    reports.scroll_into_view_if_needed()
    assert second.evaluate(OVERFLOW) <= 0
    shoot(second, "ux-dinsos-four-eyes", "2-second-account-reviews")
    second.get_by_test_id("confirm-report").click()
    # A worker applies it; the job's page reloads itself until done, then leads back to the payments.
    expect(second.get_by_role("status")).to_contain_text("4 penyaluran", timeout=20_000)
    second.get_by_role("link", name="Kembali").click()
    expect(second.get_by_test_id("paid")).to_have_text(services.rupiah(4 * 900_000))
    assert second.evaluate(OVERFLOW) <= 0
    shoot(second, "ux-dinsos-four-eyes", "3-confirmed-and-applied")
    assert set(Disbursement.objects.values_list("status", flat=True)) == {"received"}
