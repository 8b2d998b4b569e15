"""Four eyes where money moves: a channel's payment report and a programme's rules are prepared by one Dinsos
or administrator account and applied only once a second one confirms; the preparer cannot confirm."""
import threading

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _

from accounts.models import Role
from distribution import services
from distribution.models import Determination, Disbursement, PaymentPeriod, PendingChange, Programme
from dtsen_portal.errors import Conflict, InvalidState, NotAllowed, NotInScope
from jobs.models import Job

from ..factories import VILLAGE, FamilyFactory, UserFactory, client_for, post_and_run_jobs, village
from .test_payments import report_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def period():
    return PaymentPeriod.objects.get(programme_id="BLTS-KESRA", code="2025-T4")


@pytest.fixture
def preparer():
    return UserFactory(role=Role.DINSOS, area_id="12.09", first_name="Pertama", last_name="Dinsos")


@pytest.fixture
def second():
    return UserFactory(role=Role.DINSOS, area_id="12.09", first_name="Kedua", last_name="Dinsos")


@pytest.fixture
def payments(preparer, period):
    for i in range(3):
        family = FamilyFactory(village=village(VILLAGE))
        Determination.objects.create(determination_id=f"F-{family.pk}-{i}", central_id=f"C{family.pk}",
                                     family=family, village_id=VILLAGE, programme="BLTS-KESRA", period="2025-10")
    services.kpm_build(actor=preparer, period_id=period.pk)
    return list(Disbursement.objects.select_related("family").order_by("pk"))


def _rows(payments):
    return [(p.family.kk_number, "pos", "900000", "diterima", "") for p in payments]


def _prepare(preparer, period, payments) -> PendingChange:
    client_for(preparer).post(f"{reverse('payments')}?period={period.pk}", {"file": report_file(_rows(payments))})
    return PendingChange.objects.get()


def _url(period):
    return f"{reverse('payments')}?period={period.pk}"


def test_a_checked_report_is_kept_server_side_and_changes_nothing_until_a_second_account_confirms(
        preparer, period, payments):
    client = client_for(preparer)
    client.post(_url(period), {"file": report_file(_rows(payments))})
    change = PendingChange.objects.get()
    assert change.state == "pending" and change.prepared_by == preparer and len(change.payload["rows"]) == 3
    assert change.summary["by_status"]["received"] == {"families": 3, "amount": 2_700_000}
    assert not any(key.startswith("payment-import") for key in client.session.keys())  # noqa: SIM118 (a session is no dict)
    assert set(Disbursement.objects.values_list("status", flat=True)) == {"scheduled"}
    assert not Job.objects.exists()
    page = client.get(_url(period)).content.decode()
    assert 'data-testid="waiting-second-account"' in page and 'data-testid="confirm-report"' not in page


def test_the_preparer_cannot_confirm_their_own_report_even_with_a_forged_post(preparer, period, payments):
    change = _prepare(preparer, period, payments)
    client = client_for(preparer)
    page = client.post(_url(period), {"action": "confirm", "change": change.pk}, follow=True).content.decode()
    assert _("You prepared this change, so you cannot confirm it: a second Dinsos or administrator account "
             "must.") in page
    change.refresh_from_db()
    assert change.state == "pending" and change.decided_by is None and not Job.objects.exists()
    assert set(Disbursement.objects.values_list("status", flat=True)) == {"scheduled"}
    with pytest.raises(NotAllowed):
        services.change_confirm(actor=preparer, change_id=change.pk)


def test_a_dinsos_of_another_regency_can_neither_see_nor_confirm_the_report(preparer, period, payments):
    change = _prepare(preparer, period, payments)
    stranger = UserFactory(role=Role.DINSOS, area_id="12.72")
    client = client_for(stranger)
    assert f'data-testid="change-{change.pk}"' not in client.get(_url(period)).content.decode()
    assert client.post(_url(period), {"action": "confirm", "change": change.pk}).status_code == 404
    assert client.post(_url(period), {"action": "reject", "change": change.pk, "note": "x"}).status_code == 404
    change.refresh_from_db()
    assert change.state == "pending"


def test_a_village_operator_cannot_confirm_a_payment_report(preparer, period, payments):
    change = _prepare(preparer, period, payments)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    with pytest.raises(NotAllowed):
        services.change_confirm(actor=operator, change_id=change.pk)
    assert client_for(operator).post(_url(period), {"action": "confirm", "change": change.pk}).status_code == 403


def test_a_second_dinsos_confirms_and_the_worker_applies_it_with_history_naming_both(
        preparer, second, period, payments):
    change = _prepare(preparer, period, payments)
    page = client_for(second).get(_url(period)).content.decode()
    assert 'data-testid="confirm-report"' in page and "Rp2.700.000" in page
    done = post_and_run_jobs(client_for(second), _url(period), {"action": "confirm", "change": change.pk})
    assert "3 penyaluran diperbarui dari laporan" in done.content.decode()
    change.refresh_from_db()
    assert (change.state, change.decided_by, change.payload) == ("confirmed", second, {})
    assert change.applied_at is not None and change.job.user == second
    assert set(Disbursement.objects.values_list("status", "amount_paid")) == {("received", 900_000)}
    records = Disbursement.history.filter(id__in=[p.pk for p in payments])
    assert records.count() == 3
    assert {(r.history_user_id, r.status) for r in records} == {(second.pk, "received")}
    assert all("Pertama Dinsos" in r.history_change_reason for r in records)
    kpm_page = client_for(second).get(reverse("kpm-list"), {"period": period.pk}).content.decode()
    assert kpm_page.count('data-testid="payment-history"') == 3 and "Kedua Dinsos" in kpm_page


def test_the_history_rows_of_a_report_are_written_in_bulk_whatever_its_size(preparer, second, period):
    def apply_report(n):
        PendingChange.objects.all().delete()
        for i in range(n):
            family = FamilyFactory(village=village(VILLAGE))
            Determination.objects.create(determination_id=f"B{n}-{family.pk}-{i}", central_id=f"C{family.pk}",
                                         family=family, village_id=VILLAGE, programme="BLTS-KESRA",
                                         period="2025-10")
        services.kpm_build(actor=preparer, period_id=period.pk)
        rows = [{"kk_number": d.family.kk_number, "status": "received", "channel": "pos", "reason": "",
                 "amount": 900_000, "errors": [], "line": i}
                for i, d in enumerate(Disbursement.objects.filter(status="scheduled").select_related("family"))]
        change = services.payment_report_prepare(actor=preparer, period_id=period.pk, rows=rows)
        with TestCase.captureOnCommitCallbacks(execute=False):
            services.change_confirm(actor=second, change_id=change.pk)
        with CaptureQueriesContext(connection) as queries:
            assert services.payment_report_apply(actor=second, change_id=change.pk) == n
        return len(queries.captured_queries)

    assert apply_report(3) == apply_report(30)


def test_the_worker_applies_only_a_confirmed_report_and_only_once(preparer, second, period, payments):
    change = _prepare(preparer, period, payments)
    with pytest.raises(InvalidState):
        services.payment_report_apply(actor=second, change_id=change.pk)
    with TestCase.captureOnCommitCallbacks(execute=False):
        services.change_confirm(actor=second, change_id=change.pk)
    assert services.payment_report_apply(actor=second, change_id=change.pk) == 3
    with pytest.raises(InvalidState):
        services.payment_report_apply(actor=second, change_id=change.pk)
    assert Disbursement.history.count() == 3


def test_confirming_a_decided_report_again_changes_nothing_and_says_who_decided(preparer, second, period, payments):
    change = _prepare(preparer, period, payments)
    admin = UserFactory(role=Role.ADMIN, area_id=None)
    with TestCase.captureOnCommitCallbacks(execute=False):
        services.change_confirm(actor=second, change_id=change.pk)
    with pytest.raises(Conflict) as refused:
        services.change_confirm(actor=admin, change_id=change.pk)
    assert "Kedua Dinsos" in refused.value.message
    assert Job.objects.count() == 1
    page = client_for(admin).post(_url(period), {"action": "confirm", "change": change.pk}, follow=True)
    assert "Kedua Dinsos" in page.content.decode() and Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_accounts_confirming_at_once_one_wins_and_the_other_is_told(regions):
    from django.db import close_old_connections

    # Committed data (the threads have connections of their own); regions also seeds the programmes.
    period = PaymentPeriod.objects.get(programme_id="BLTS-KESRA", code="2025-T4")

    preparer = UserFactory(role=Role.DINSOS, area_id="12.09")
    accounts = [UserFactory(role=Role.DINSOS, area_id="12.09", first_name=f"Konfirmasi{i}") for i in range(2)]
    family = FamilyFactory(village=village(VILLAGE))
    Determination.objects.create(determination_id="X1", central_id="CX1", family=family, village_id=VILLAGE,
                                 programme="BLTS-KESRA", period="2025-10")
    services.kpm_build(actor=preparer, period_id=period.pk)
    rows = [{"kk_number": family.kk_number, "status": "received", "channel": "pos", "reason": "",
             "amount": 900_000, "errors": [], "line": 2}]
    change = services.payment_report_prepare(actor=preparer, period_id=period.pk, rows=rows)
    start, outcomes = threading.Barrier(2), []

    def confirm(account):
        try:
            start.wait()
            services.change_confirm(actor=account, change_id=change.pk)
            outcomes.append("confirmed")
        except Conflict as exc:
            outcomes.append(exc.message)
        finally:
            close_old_connections()

    from unittest import mock

    # The worker is not started here; the job stays queued.
    with mock.patch("jobs.services._send"):
        threads = [threading.Thread(target=confirm, args=(a,)) for a in accounts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    assert sorted(outcomes, key=len)[0] == "confirmed" and len(outcomes) == 2
    assert "Konfirmasi" in sorted(outcomes, key=len)[1]
    assert Job.objects.count() == 1 and PendingChange.objects.get().state == "confirmed"


def test_a_rejected_report_needs_a_note_and_is_never_applied(preparer, second, period, payments):
    change = _prepare(preparer, period, payments)
    with pytest.raises(InvalidState):
        services.change_reject(actor=second, change_id=change.pk, note="  ")
    client_for(second).post(_url(period), {"action": "reject", "change": change.pk, "note": "Jumlah salah"})
    change.refresh_from_db()
    assert (change.state, change.decided_by, change.note, change.payload) == ("rejected", second, "Jumlah salah", {})
    assert "Jumlah salah" in client_for(preparer).get(_url(period)).content.decode()
    with pytest.raises(Conflict):
        services.change_confirm(actor=second, change_id=change.pk)
    assert set(Disbursement.objects.values_list("status", flat=True)) == {"scheduled"}


def test_only_one_report_per_period_waits_and_the_preparer_may_withdraw_it(preparer, second, period, payments):
    change = _prepare(preparer, period, payments)
    page = client_for(preparer).post(_url(period), {"file": report_file(_rows(payments))}).content.decode()
    assert PendingChange.objects.count() == 1 and 'role="alert"' in page
    with pytest.raises(NotAllowed):
        services.change_withdraw(actor=second, change_id=change.pk)
    client_for(preparer).post(_url(period), {"action": "withdraw", "change": change.pk})
    assert PendingChange.objects.get().state == "withdrawn"
    _prepare_again = client_for(preparer).post(_url(period), {"file": report_file(_rows(payments))})
    assert _prepare_again.status_code == 200 and PendingChange.objects.filter(state="pending").count() == 1


def _checked(payments):
    return [{"kk_number": p.family.kk_number, "status": "received", "channel": "pos", "reason": "",
             "amount": 900_000, "errors": [], "line": i + 2} for i, p in enumerate(payments)]


def test_the_payments_page_reads_a_fixed_number_of_queries_whatever_the_reports(
        preparer, second, period, payments, django_assert_num_queries):
    client = client_for(second)
    client.get(_url(period))  # the session is read once warm
    services.payment_report_prepare(actor=preparer, period_id=period.pk, rows=_checked(payments))
    with django_assert_num_queries(9):
        client.get(_url(period))
    for _i in range(3):
        waiting = PendingChange.objects.get(state="pending")
        services.change_reject(actor=second, change_id=waiting.pk, note="lagi")
        services.payment_report_prepare(actor=preparer, period_id=period.pk, rows=_checked(payments))
    with django_assert_num_queries(9):
        page = client.get(_url(period)).content.decode()
    assert page.count('data-testid="change-') == 4


# -- programme rules --------------------------------------------------------------------------------------

@pytest.fixture
def admins():
    return (UserFactory(role=Role.ADMIN, area_id=None, first_name="Admin", last_name="Satu"),
            UserFactory(role=Role.ADMIN, area_id=None, first_name="Admin", last_name="Dua"))


RULES = reverse("programme-rules")


def _propose(client, **changes):
    data = {"programme_code": "BLTS-KESRA", "max_desil": 4, "monthly_amount": 300000, "active": "on", **changes}
    return client.post(RULES, data)


def test_new_programme_rules_apply_only_after_a_second_administrator_confirms(admins):
    first, second = admins
    _propose(client_for(first), max_desil=5, monthly_amount=350000)
    assert Programme.objects.get(code="BLTS-KESRA").max_desil == 4
    change = PendingChange.objects.get(kind="programme-rules")
    assert change.summary["changes"] == {"max_desil": [4, 5], "monthly_amount": [300000, 350000]}
    page = client_for(first).get(RULES).content.decode()
    assert f'data-testid="pending-rules-{change.pk}"' in page and 'data-testid="confirm-rules"' not in page
    client_for(first).post(RULES, {"action": "confirm", "change": change.pk})  # forged: refused
    assert Programme.objects.get(code="BLTS-KESRA").max_desil == 4
    assert 'data-testid="confirm-rules"' in client_for(second).get(RULES).content.decode()
    client_for(second).post(RULES, {"action": "confirm", "change": change.pk})
    programme = Programme.objects.get(code="BLTS-KESRA")
    assert (programme.max_desil, programme.monthly_amount) == (5, 350000)
    record = programme.history.order_by("-history_id").first()
    assert record.history_user == second and "Admin Satu" in record.history_change_reason
    page = client_for(second).get(RULES).content.decode()
    assert "Rp300.000" in page and "Rp350.000" in page and "Admin Dua" in page


def test_dinsos_may_not_propose_or_confirm_national_programme_rules(admins):
    first, _second = admins
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09")
    with pytest.raises(NotAllowed):
        services.programme_change_prepare(actor=dinsos, programme_code="BLTS-KESRA", max_desil=9,
                                          monthly_amount=1, active=True)
    _propose(client_for(first), max_desil=3)
    change = PendingChange.objects.get()
    with pytest.raises(NotInScope):  # an administrator's change is invisible outside the administrators
        services.change_confirm(actor=dinsos, change_id=change.pk)
    assert Programme.objects.get(code="BLTS-KESRA").max_desil == 4


def test_a_rules_proposal_with_bad_values_is_refused_beside_its_field(admins):
    first, _second = admins
    page = _propose(client_for(first), max_desil=11, monthly_amount="-5").content.decode()
    assert page.count('class="field has-error"') == 2 and not PendingChange.objects.exists()
    page = _propose(client_for(first)).content.decode()  # the rules as they are
    assert escape(_("These are the programme's rules already; nothing to confirm.")) in page
    assert not PendingChange.objects.exists()


def test_the_admin_no_longer_changes_a_programmes_rules_directly(admins):
    first, _second = admins
    first.is_staff = first.is_superuser = True
    first.save()
    url = reverse("admin:distribution_programme_change", args=["BLTS-KESRA"])
    client_for(first).post(url, {"code": "BLTS-KESRA", "name": "BLTS Kesra", "max_desil": 9,
                                 "monthly_amount": 1, "conditions": "{}", "active": "on"})
    programme = Programme.objects.get(code="BLTS-KESRA")
    assert (programme.max_desil, programme.monthly_amount) == (4, 300000)
    record = Programme.history.order_by("history_id").first()
    revert = reverse("admin:distribution_programme_simple_history", args=["BLTS-KESRA", record.history_id])
    assert client_for(first).post(revert, {"max_desil": 9}).status_code == 403


# -- the same through the API -------------------------------------------------------------------------------
def _api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def test_through_the_api_a_second_dinsos_confirms_a_payment_report_the_preparer_cannot(preparer, second, period,
                                                                                       payments):
    change = _prepare(preparer, period, payments)
    listed = _api(second).get("/api/v1/changes/?state=pending").json()["results"]
    assert [(c["id"], c["kind"], c["prepared_by"]) for c in listed] == [(change.pk, "payment-report", preparer.pk)]
    assert listed[0]["summary"] == change.summary and listed[0]["state_display"]

    own = _api(preparer).post(f"/api/v1/changes/{change.pk}/confirm/", format="json")
    assert own.status_code == 403 and "tidak dapat mengonfirmasinya" in own.json()["message"]
    assert PendingChange.objects.get(pk=change.pk).state == PendingChange.State.PENDING

    confirmed = _api(second).post(f"/api/v1/changes/{change.pk}/confirm/", format="json")
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert (body["state"], body["decided_by"]) == ("confirmed", second.pk) and body["job"]
    again = _api(second).post(f"/api/v1/changes/{change.pk}/reject/", {"note": "Salah."}, format="json")
    assert again.status_code == 409 and "Kedua Dinsos" in again.json()["message"]


def test_through_the_api_a_rejection_needs_a_note_and_other_regencies_and_villages_see_nothing(
        preparer, second, period, payments):
    change = _prepare(preparer, period, payments)
    elsewhere = UserFactory(role=Role.DINSOS, area_id="12.72")
    assert _api(elsewhere).get("/api/v1/changes/").json()["results"] == []
    assert _api(elsewhere).post(f"/api/v1/changes/{change.pk}/confirm/", format="json").status_code == 404
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    assert _api(operator).get("/api/v1/changes/").json()["results"] == []
    assert _api(second).post(f"/api/v1/changes/{change.pk}/reject/", {}, format="json").status_code == 400
    rejected = _api(second).post(f"/api/v1/changes/{change.pk}/reject/", {"note": "Jumlah salah."}, format="json")
    assert rejected.json()["state"] == "rejected" and rejected.json()["note"] == "Jumlah salah."
    assert not Disbursement.objects.exclude(status=payments[0].status).exists()


def test_through_the_api_programme_rules_wait_for_a_second_administrator():
    first, second_admin = (UserFactory(role=Role.ADMIN, area_id=None, username=name) for name in ("adm-1", "adm-2"))
    before = Programme.objects.values().get(code="BLTS-KESRA")
    url, rules = "/api/v1/changes/programme-rules/", {"programme": "BLTS-KESRA", "active": True}
    refused = _api(UserFactory(role=Role.DINSOS, area_id="12.09")).post(
        url, {**rules, "max_desil": 3, "monthly_amount": 1}, format="json")
    assert refused.status_code == 403
    bad = _api(first).post(url, {**rules, "max_desil": 11, "monthly_amount": 1}, format="json")
    assert bad.status_code == 400 and "max_desil" in bad.json()["field_errors"]
    unknown = _api(first).post(url, {**rules, "programme": "NOPE", "max_desil": 3, "monthly_amount": 1},
                               format="json")
    assert unknown.status_code == 400 and unknown.json()["field_errors"]["programme"] == [
        "Tidak ada program dengan kode ini."]
    prepared = _api(first).post(url, {**rules, "max_desil": 3, "monthly_amount": 250000}, format="json")
    assert prepared.status_code == 201
    assert Programme.objects.values().get(code="BLTS-KESRA") == before  # nothing applied yet
    change_id = prepared.json()["id"]
    assert _api(first).post(f"/api/v1/changes/{change_id}/confirm/", format="json").status_code == 403
    assert _api(second_admin).post(f"/api/v1/changes/{change_id}/confirm/", format="json").status_code == 200
    programme = Programme.objects.get(code="BLTS-KESRA")
    assert (programme.max_desil, programme.monthly_amount) == (3, 250000)


def test_a_confirmed_report_whose_apply_failed_is_not_stuck_it_can_be_rejected_or_confirmed_again(
        preparer, second, period, payments, monkeypatch):
    from jobs import services as jobs

    change = _prepare(preparer, period, payments)
    # The queue is down when the second account confirms: the job says nothing was started.
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: False)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client_for(second).post(_url(period), {"action": "confirm", "change": change.pk})
    change.refresh_from_db()
    assert (change.state, change.applied_at, change.job.state) == ("confirmed", None, "failed")
    assert change.awaits_decision
    page = client_for(second).get(_url(period)).content.decode()
    assert 'data-testid="confirm-report"' in page and "tidak diterapkan" in page
    monkeypatch.undo()
    # Back up: confirmed again, and this time applied.
    done = post_and_run_jobs(client_for(second), _url(period), {"action": "confirm", "change": change.pk})
    assert "3 penyaluran diperbarui dari laporan" in done.content.decode()
    change.refresh_from_db()
    assert change.applied_at is not None and not change.awaits_decision
    assert set(Disbursement.objects.values_list("status", flat=True)) == {"received"}
    # Applied, it is decided for good.
    with pytest.raises(Conflict):
        services.change_reject(actor=second, change_id=change.pk, note="Terlambat.")


def test_a_forged_or_overlong_decision_changes_nothing_and_says_why(preparer, second, period, payments):
    change = _prepare(preparer, period, payments)
    client = client_for(second)
    long_note = client.post(_url(period), {"action": "reject", "change": change.pk, "note": "x" * 1001}, follow=True)
    assert "paling banyak 1000 karakter" in long_note.content.decode()
    for forged in ({"action": "confirm", "change": "1e9"}, {"action": "confirm", "change": "-1"},
                   {"action": "reject", "change": "٣"}):
        client.post(_url(period), forged)
    change.refresh_from_db()
    assert (change.state, change.decided_by) == ("pending", None)

