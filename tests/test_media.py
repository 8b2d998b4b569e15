"""Uploaded files are personal data: only users whose area covers the record can download them."""
import pytest
from django.core.files.base import ContentFile
from django.test import Client

from accounts.models import Role
from verification.models import RoundFamily

from .factories import VILLAGE, VILLAGE_SAME_KECAMATAN, UserFactory, round_with_families

pytestmark = pytest.mark.django_db


def test_evidence_is_served_to_the_village_and_regency_but_404_elsewhere_and_never_anonymously(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    entry = round_with_families(1).entries.get()
    entry.evidence.save("bukti.jpg", ContentFile(b"\xff\xd8\xff fake jpeg"), save=True)
    url = RoundFamily.objects.get(pk=entry.pk).evidence.url

    def fetch(user=None):
        client = Client()
        if user:
            client.force_login(user)
        return client.get(url)

    assert fetch(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)).status_code == 200
    assert fetch(UserFactory(role=Role.DINSOS, area_id="12.09")).status_code == 200
    assert fetch(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE_SAME_KECAMATAN)).status_code == 404
    assert fetch().status_code == 302  # to the login page
    operator = Client()
    operator.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    assert operator.get("/media/../settings.py").status_code == 404
