"""A record of every decision: the village's decisions on a family in a round, an account's role and area, and
a citizen's report's handling keep who changed what from -> to and when, shown on the object's page."""
import pytest
from django.contrib.auth.models import update_last_login
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Role, User
from distribution import services as distribution_services
from distribution.models import CitizenReport
from verification import services
from verification.models import RoundFamily

from .factories import (
    VILLAGE,
    VILLAGE_SAME_KECAMATAN,
    UserFactory,
    _report_in,
    client_for,
    round_with_families,
    village,
)

pytestmark = pytest.mark.django_db


def _label(choice) -> str:
    return escape(str(choice.label))


def test_a_changed_decision_keeps_the_earlier_one_with_who_and_when():
    round_ = round_with_families(1)
    entry = round_.entries.get()
    first = UserFactory(first_name="Operator", last_name="Pagi")
    second = UserFactory(first_name="Kades", last_name="Sore")
    services.entry_decide(actor=first, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                          expected_version=1)
    services.entry_decide(actor=second, round_id=round_.pk, entry_id=entry.pk, decision="not_eligible",
                          reason="well_off", expected_version=2)
    records = list(entry.history.order_by("history_id"))
    assert [(r.decision, r.history_user_id) for r in records] == [  # created undecided, then decided twice
        ("", None), ("eligible", first.pk), ("not_eligible", second.pk)]
    page = client_for(first).get(reverse("round-entry", args=[round_.pk, entry.pk])).content.decode()
    history = page[page.index('data-testid="decision-history"'):]
    history = history[:history.index("</section>")]
    assert "Operator Pagi" in history and "Kades Sore" in history
    eligible, not_eligible = _label(RoundFamily.Decision.ELIGIBLE), _label(RoundFamily.Decision.NOT_ELIGIBLE)
    assert f"<del>{eligible}</del> &rarr; <ins>{not_eligible}</ins>" in history
    assert _label(RoundFamily.Reason.WELL_OFF) in history and ">not_eligible<" not in history


def test_decisions_taken_in_bulk_write_their_history_rows_in_bulk():
    def decide_all(n):
        round_ = round_with_families(n)
        operator = UserFactory()
        versions = dict(round_.entries.values_list("pk", "version"))
        with CaptureQueriesContext(connection) as queries:
            assert services.entries_decide_bulk(actor=operator, round_id=round_.pk, versions=versions,
                                                decision="eligible") == n
        assert RoundFamily.history.filter(round=round_, history_user=operator, decision="eligible").count() == n
        return len(queries.captured_queries)

    assert decide_all(2) == decide_all(25)


def test_the_family_in_round_page_reads_the_same_queries_however_long_its_history(django_assert_num_queries):
    round_ = round_with_families(1)
    entry = round_.entries.get()
    operator = UserFactory()
    client = client_for(operator)
    url = reverse("round-entry", args=[round_.pk, entry.pk])
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                          expected_version=1)
    client.get(url)
    with CaptureQueriesContext(connection) as once:
        client.get(url)
    for version, decision in ((2, "corrected"), (3, "eligible"), (4, "corrected")):
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision=decision,
                              expected_version=version)
    with django_assert_num_queries(len(once.captured_queries)):
        page = client.get(url).content.decode()
    assert page.count(f"<ins>{_label(RoundFamily.Decision.CORRECTED)}</ins>") == 2


def test_an_accounts_role_and_area_change_shows_on_the_accounts_list_and_logins_leave_no_record():
    dinsos = UserFactory(role=Role.DINSOS, area_id="12.09", first_name="Kepala", last_name="Bidang")
    account = UserFactory(username="operator-pindah", area_id=VILLAGE)
    account.area_id = VILLAGE_SAME_KECAMATAN
    account.role = Role.VILLAGE_HEAD
    account._history_user = dinsos
    account.save()
    before = User.history.filter(id=account.pk).count()
    update_last_login(None, account)
    account.set_password("another-password-1")
    account.save(update_fields=["password"])
    assert User.history.filter(id=account.pk).count() == before
    page = client_for(dinsos).get(reverse("account-list")).content.decode()
    row = page[page.index("operator-pindah"):]
    row = row[:row.index("</tr>")]
    assert "Kepala Bidang" in row and village(VILLAGE).name in row and village(VILLAGE_SAME_KECAMATAN).name in row
    assert f"<del>{_label(Role.VILLAGE_OPERATOR)}</del> &rarr; <ins>{_label(Role.VILLAGE_HEAD)}</ins>" in row
    assert "password" not in {f.name for f in User.history.model._meta.fields}


def test_a_citizens_report_handling_shows_in_the_report_queue_in_a_fixed_number_of_queries(
        django_assert_num_queries):
    operator = UserFactory(first_name="Operator", last_name="Desa")
    client = client_for(operator)
    report = _report_in(VILLAGE)
    distribution_services.report_resolve(actor=operator, report_id=report.pk, accept=False,
                                         resolution="Sudah terdaftar")
    client.get(reverse("report-queue"))
    with CaptureQueriesContext(connection) as once:
        page = client.get(reverse("report-queue")).content.decode()
    history = page[page.index('data-testid="report-history"'):]
    assert "Operator Desa" in history and "Sudah terdaftar" in history
    assert f"<ins>{_label(CitizenReport.Status.REJECTED)}</ins>" in history
    for _i in range(4):
        other = _report_in(VILLAGE)
        distribution_services.report_resolve(actor=operator, report_id=other.pk, accept=False, resolution="Ganda")
    with django_assert_num_queries(len(once.captured_queries)):
        page = client.get(reverse("report-queue")).content.decode()
    assert page.count('data-testid="report-history"') == 5
