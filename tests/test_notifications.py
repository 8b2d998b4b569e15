"""Notifications: one service (notifications.services.notify) with pluggable channels, e-mail through Django's
mail backend and SMS/WhatsApp through an HTTP gateway (a local fake in tests), sent by a Celery task after the
request's transaction commits, never inside the request. A citizen's report tells its reporter (phone or e-mail)
when it is received and when it moves on; the village operators hear of a new report, the facilitator of a new
ground-check."""
import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from distribution import services as reports
from distribution.models import CitizenReport
from notifications import channels, services
from notifications.tasks import send_notification

from .factories import KECAMATAN, VILLAGE, FamilyFactory, MemberFactory, UserFactory, registered_reporter, village

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fake_gateway(settings, monkeypatch):
    settings.NOTIFICATION_CHANNELS = ["notifications.channels.EmailChannel",
                                      "notifications.channels.FakeGatewayChannel"]
    monkeypatch.setattr(channels.FakeGatewayChannel, "outbox", [])
    cache.clear()
    yield channels.FakeGatewayChannel
    cache.clear()


@pytest.fixture
def queued(monkeypatch):
    """What was handed to the queue: the task and its payload, not run."""
    sent = []
    monkeypatch.setattr("dtsen_portal.queue.enqueue", lambda task, *args: sent.append((task, args)) or True)
    return sent


def run(queued) -> None:
    for task, args in queued:
        task.apply(args=args)


def test_nothing_is_sent_inside_the_request_only_queued_after_commit(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.notify(subject="S", body="B", email="warga@example.org", phone="0812345678")
    assert not queued and not mail.outbox  # not before the commit
    for callback in callbacks:
        callback()
    # One task per channel with an address in the message: a retry of one does not resend by the other.
    assert [(task, args[1]) for task, args in queued] == [
        (send_notification, "notifications.channels.EmailChannel"),
        (send_notification, "notifications.channels.FakeGatewayChannel")] and not mail.outbox
    run(queued)
    assert [m.to for m in mail.outbox] == [["warga@example.org"]]
    assert channels.FakeGatewayChannel.outbox == [{"to": "0812345678", "text": "S\nB"}]


def test_without_an_address_nothing_is_queued(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert not services.notify(subject="S", body="B")
    assert not queued


def test_the_http_gateway_posts_to_the_configured_address_with_its_token(settings, monkeypatch):
    settings.NOTIFICATION_GATEWAY_URL = "http://gateway.test/send"
    settings.NOTIFICATION_GATEWAY_TOKEN = "rahasia"  # noqa: S105 - a test value
    calls = []

    class Answer:
        status_code = 200

        def raise_for_status(self):
            return None

    monkeypatch.setattr(channels.requests, "post", lambda url, **kw: calls.append((url, kw)) or Answer())
    assert channels.HttpGatewayChannel().send(channels.Message(subject="S", body="B", phone="0812"))
    url, options = calls[0]
    assert url == "http://gateway.test/send" and options["json"] == {"to": "0812", "text": "S\nB"}
    assert options["headers"]["Authorization"] == "Bearer rahasia" and options["timeout"]
    assert not channels.HttpGatewayChannel().send(channels.Message(subject="S", body="B", email="a@b.c"))


def test_a_failing_gateway_makes_the_task_retry_not_the_request_fail(settings, monkeypatch):
    import requests

    settings.NOTIFICATION_CHANNELS = ["notifications.channels.HttpGatewayChannel"]
    settings.NOTIFICATION_GATEWAY_URL = "http://gateway.test/send"

    def down(*args, **kwargs):
        raise requests.ConnectionError("gateway down")

    monkeypatch.setattr(channels.requests, "post", down)
    from celery.exceptions import Retry

    with pytest.raises(Retry):  # the worker tries again later (retry_backoff); nobody waited for it
        send_notification.apply(args=[{"subject": "S", "body": "B", "email": "", "phone": "0812"},
                                      "notifications.channels.HttpGatewayChannel"], throw=True)


def test_a_gateway_refusing_a_message_is_not_asked_again(settings, monkeypatch):
    settings.NOTIFICATION_CHANNELS = ["notifications.channels.HttpGatewayChannel"]
    settings.NOTIFICATION_GATEWAY_URL = "http://gateway.test/send"
    calls = []

    class Refused:
        status_code = 422

        def raise_for_status(self):  # pragma: no cover - a 4xx is never raised
            raise AssertionError("a refusal is not retried")

    monkeypatch.setattr(channels.requests, "post", lambda url, **kw: calls.append(url) or Refused())
    result = send_notification.apply(args=[{"subject": "S", "body": "B", "email": "", "phone": "0812"},
                                           "notifications.channels.HttpGatewayChannel"], throw=True)
    assert result.get() is False and len(calls) == 1


def test_a_task_names_only_a_configured_channel():
    with pytest.raises(ValueError):
        services.deliver({"subject": "S", "body": "B", "email": "a@b.c", "phone": ""}, "os.system")


def test_a_report_tells_its_reporter_and_the_village_and_its_outcome_reaches_them(
        queued, django_capture_on_commit_callbacks):
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE, email="operator@desa.example")
    UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE, username="operator-hp", phone="0813 1111 2222")
    UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN, email="pendamping@example.org", phone="+62 812 0000 1")
    subject = MemberFactory(family=FamilyFactory(village=village(VILLAGE)), name="Siti Aminah")
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(reverse("cek-bansos-report"), {
            "kind": "sanggahan", "village": VILLAGE, "subject_name": "Siti Aminah", "subject_nik": subject.nik,
            "reason": "Sudah mampu", "reporter_phone": "0812 3456 789", "reporter_email": "warga@example.org",
            "website": "", **registered_reporter()})
    assert response.status_code == 302 and not mail.outbox  # queued, not sent by the request
    report = CitizenReport.objects.get()
    run(queued)
    assert sorted(m.to[0] for m in mail.outbox) == ["operator@desa.example", "warga@example.org"]
    texts = {m["to"]: m["text"] for m in channels.FakeGatewayChannel.outbox}
    assert set(texts) == {"0812 3456 789", "0813 1111 2222"}  # the citizen, and the operator with only a phone
    assert report.reference in texts["0812 3456 789"] and report.reference in texts["0813 1111 2222"]
    channels.FakeGatewayChannel.outbox.clear()
    queued.clear()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reports.report_resolve(actor=operator, report_id=report.pk, accept=True, resolution="Akan dicek")
    run(queued)
    assert sorted(m.to[0] for m in mail.outbox) == ["pendamping@example.org", "warga@example.org"]
    assert sorted(m["to"] for m in channels.FakeGatewayChannel.outbox) == ["+62 812 0000 1", "0812 3456 789"]
    to_citizen = next(m for m in mail.outbox if m.to == ["warga@example.org"])
    assert "Akan dicek" in to_citizen.body and report.reference in to_citizen.subject
    assert subject.nik not in to_citizen.body


def test_dinsos_is_told_once_of_the_reports_left_past_their_due_date(queued, django_capture_on_commit_callbacks):
    import datetime as dt

    from django.utils import timezone

    from distribution.tasks import escalate_overdue_reports

    UserFactory(role=Role.DINSOS, area_id="12.09", email="dinsos@batubara.example")
    UserFactory(role=Role.DINSOS, area_id="12.72", email="dinsos@lain.example")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            cache.clear()
            Client().post(reverse("cek-bansos-report"), {
                "kind": "usulan", "village": VILLAGE, "subject_name": f"Keluarga {n}", "reason": f"Belum {n}",
                "reporter_name": "Warga", "website": ""})
    assert CitizenReport.objects.count() == 3
    queued.clear()
    late = list(CitizenReport.objects.order_by("pk")[:2])
    CitizenReport.objects.filter(pk__in=[r.pk for r in late]).update(
        due_on=timezone.localdate() - dt.timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_overdue_reports.apply().get() == 2
    run(queued)
    assert [m.to for m in mail.outbox] == [["dinsos@batubara.example"]]
    assert all(r.reference in mail.outbox[0].body for r in late)
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_overdue_reports.apply().get() == 0  # told once
    assert not queued
