"""NIK and KK numbers are 16 ASCII digits 0-9, birth dates are not in the future, everywhere they enter
(issue 13, finding 7): forms, the API, ids in forms and URL parameters. Python's ``str.isdigit`` and ``int``
also take Arabic-Indic and superscript digits; those must be refused with a message, never registered as a
new person and never a 500."""
import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role
from registry.models import Family, Member
from registry.validators import ascii_int, is_ascii_digits
from verification.forms import MemberChangeForm

from .factories import REGENCY, VILLAGE, MemberFactory, UserFactory, kk_for, nik_for, round_with_families

pytestmark = pytest.mark.django_db

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def proposal(round_id, *, kk, nik, born="1985-06-15"):
    return {"round": round_id,
            "family": {"kk_number": kk, "dusun": "I", "rt": "001", "rw": "002", "address": "Jl. Sawah"},
            "members": [{"nik": nik, "name": "Siti Aminah", "sex": "P", "birth_place": "Kisaran",
                         "birth_date": born, "relationship": "head"}]}


@pytest.fixture
def operator():
    return UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)


def test_arabic_indic_copies_of_an_existing_kk_and_nik_are_refused_and_nobody_is_registered_twice(operator):
    round_ = round_with_families(1)
    existing = round_.entries.get().family
    person = existing.members.get()
    families, members = Family.objects.count(), Member.objects.count()
    client = api_for(operator)
    copy_kk = client.post("/api/v1/proposals/", proposal(round_.pk, kk=existing.kk_number.translate(ARABIC_INDIC),
                                                         nik=nik_for(VILLAGE, dt.date(1985, 6, 15), "P")),
                          format="json")
    copy_nik = client.post("/api/v1/proposals/", proposal(round_.pk, kk=kk_for(VILLAGE),
                                                          nik=person.nik.translate(ARABIC_INDIC),
                                                          born=person.birth_date.isoformat()), format="json")
    for response, field in ((copy_kk, "family"), (copy_nik, "members")):
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["code"] == "invalid" and field in body["field_errors"]
        assert "0-9" in " ".join(body["field_errors"][field])
    assert (Family.objects.count(), Member.objects.count()) == (families, members)


def test_a_superscript_nik_answers_400_on_the_api_and_a_form_error_on_the_page(operator):
    round_ = round_with_families(1)
    members = Member.objects.count()
    response = api_for(operator).post("/api/v1/proposals/", proposal(round_.pk, kk=kk_for(VILLAGE),
                                                                     nik="1209121508²²6002"), format="json")
    assert response.status_code == 400 and "members" in response.json()["field_errors"]
    data = {"kk_number": kk_for(VILLAGE), "dusun": "Dusun I", "rt": "001", "rw": "002", "address": "Jl. Baru",
            "members-TOTAL_FORMS": "1", "members-INITIAL_FORMS": "0", "members-MIN_NUM_FORMS": "1",
            "members-MAX_NUM_FORMS": "1000", "members-0-nik": "1209121508²²6002", "members-0-name": "Budi",
            "members-0-sex": "L", "members-0-birth_place": "Kisaran", "members-0-birth_date": "1980-05-17",
            "members-0-relationship": "head", "members-0-disability": "none", "members-0-life_status": "present"}
    client = Client()
    client.force_login(operator)
    page = client.post(reverse("round-proposal", args=[round_.pk]), data)
    assert page.status_code == 200
    assert "hanya boleh berisi angka 0-9" in page.content.decode()
    assert Member.objects.count() == members


def test_a_birth_date_in_the_future_is_refused_by_the_api_and_the_member_form(operator):
    round_ = round_with_families(1)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    members = Member.objects.count()
    response = api_for(operator).post("/api/v1/proposals/", proposal(
        round_.pk, kk=kk_for(VILLAGE), nik=nik_for(VILLAGE, dt.date(1985, 6, 15), "P"), born=tomorrow.isoformat()),
        format="json")
    assert response.status_code == 400
    assert "masa depan" in " ".join(response.json()["field_errors"]["members"])
    assert Member.objects.count() == members
    person = MemberFactory()
    form = MemberChangeForm({"nik": person.nik, "name": person.name, "sex": "L", "birth_place": "Kisaran",
                             "birth_date": tomorrow.isoformat(), "relationship": "head", "education": "",
                             "occupation": "", "disability": "none", "life_status": "present", "version": 1},
                            instance=person)
    assert not form.is_valid() and "birth_date" in form.errors


@pytest.mark.parametrize("value", ["²", "١٢", "99999999999999999999999"])
def test_ids_with_non_ascii_or_overlong_digits_in_forms_and_urls_answer_without_a_500(value):
    dinsos = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    client = Client(raise_request_exception=False)
    client.force_login(dinsos)
    assert client.get(reverse("sync-clashes"), {"batch": value}).status_code == 200
    round_ = round_with_families(1)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    client.force_login(operator)
    response = client.post(reverse("round-bulk", args=[round_.pk]), {"entry": f"{value}:{value}",
                                                                    "bulk-decision": "eligible"})
    assert response.status_code == 302
    assert client.get(reverse("round-detail", args=[round_.pk]), {"q": value}).status_code == 200


def test_only_ascii_digits_count_as_digits():
    assert is_ascii_digits("0123456789") and not is_ascii_digits("12²") and not is_ascii_digits("١٢")
    assert not is_ascii_digits("") and not is_ascii_digits(None)
    assert ascii_int("42") == 42 and ascii_int("٤٢") is None and ascii_int("9" * 19) is None
