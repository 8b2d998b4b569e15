"""The home page's "Langkah berikutnya": each role sees the step the procedure asks of it now, linked."""
import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import Role
from verification import services
from verification.models import RoundState

from ..factories import VILLAGE, UserFactory, client_for, round_with_families, submitted_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return {"operator": UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE),
            "kades": UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE),
            "dinsos": UserFactory(role=Role.DINSOS, area_id="12.09")}


def steps(user) -> list[tuple[str, str]]:
    response = client_for(user).get(reverse("home"))
    assert response.status_code == 200
    return [(step.text, step.url) for step in response.context["next_steps"]]


def decide_all(round_, operator):
    for entry in round_.entries.order_by("pk"):
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                              expected_version=1)


def record_musdesus(round_, operator):
    services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20), place="Balai",
                             chair="Kades", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 4}])


def test_the_operator_is_led_from_undecided_families_to_musdesus_to_submitting(staff):
    operator, kades = staff["operator"], staff["kades"]
    round_ = round_with_families(3)
    village = round_.village.name
    detail = reverse("round-detail", args=[round_.pk])
    assert steps(operator) == [(f"{village}: 3 keluarga belum diputuskan.", detail + "?status=undecided")]

    decide_all(round_, operator)
    musdesus_url = reverse("round-musdesus", args=[round_.pk])
    assert steps(operator) == [(f"{village}: semua keluarga sudah diputuskan. Rekam Musdesus yang "
                                "mengesahkannya.", musdesus_url)]

    record_musdesus(round_, operator)
    assert steps(operator) == [(f"{village}: berita acara menunggu tanda tangan kepala desa.", musdesus_url)]
    assert steps(kades) == [(f"{village}: berita acara Musdesus menunggu tanda tangan Anda.", musdesus_url)]

    services.musdesus_sign_off(actor=kades, round_id=round_.pk)
    assert steps(operator) == [(f"{village}: berita acara sudah ditandatangani. Kirim putaran ke kabupaten.",
                                detail)]
    assert steps(kades) == []

    services.round_submit(actor=operator, round_id=round_.pk)
    assert steps(operator) == []
    page = client_for(operator).get(reverse("home")).content.decode()
    assert "Langkah berikutnya" in page and "Tidak ada yang menunggu Anda saat ini." in page


def test_dinsos_sees_the_review_queue_first_and_a_returned_round_tells_the_operator_what_to_redo(staff):
    round_, _entries = submitted_round()
    queue = reverse("round-list") + "?state=submitted"
    assert steps(staff["dinsos"]) == [("1 putaran menunggu tinjauan Anda.", queue)]

    services.round_return(round_id=round_.pk, actor=staff["dinsos"], note="Periksa lagi keluarga desil 9")
    assert round_.__class__.objects.get(pk=round_.pk).state == RoundState.RETURNED
    assert steps(staff["dinsos"]) == []
    (text, url), = steps(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    assert "kabupaten mengembalikan putaran ini" in text and "Musdesus" in text
    assert url == reverse("round-detail", args=[round_.pk]) + "?status=returned"


def test_a_facilitator_lands_on_the_assignment_list_and_home_counts_the_visits_waiting():
    from django.contrib.auth.hashers import make_password
    from django.test import Client

    from groundcheck.models import Assignment

    facilitator = UserFactory(username="pendamping1", role=Role.FACILITATOR, area_id=VILLAGE[:8],
                              password=make_password("pass-word-123"))
    answer = Client().post(reverse("login"), {"username": "pendamping1", "password": "pass-word-123"})
    assert answer.status_code == 302 and answer["Location"] == reverse("groundcheck-home")

    assert steps(facilitator) == []
    for entry in round_with_families(2).entries.all():
        Assignment.objects.create(family=entry.family, facilitator=facilitator)
    assert steps(facilitator) == [("2 keluarga menunggu kunjungan Anda.", reverse("groundcheck-home"))]


def test_other_roles_still_land_at_home_after_logging_in(staff):
    from django.contrib.auth.hashers import make_password
    from django.test import Client

    UserFactory(username="operator1", role=Role.VILLAGE_OPERATOR, area_id=VILLAGE,
                password=make_password("pass-word-123"))
    answer = Client().post(reverse("login"), {"username": "operator1", "password": "pass-word-123"})
    assert answer.status_code == 302 and answer["Location"] == "/"
