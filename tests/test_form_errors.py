"""Forms speak clearly: each error beside its field (one field block, never a list inside a paragraph), every
error also in a summary at the top linked to its field, required fields marked, and what was typed kept."""
import re

import pytest
from django.urls import reverse

from accounts.models import Role

from .factories import VILLAGE, UserFactory, client_for, round_with_families

pytestmark = pytest.mark.django_db


def field_block(page: str, field_id: str) -> str:
    start = r'<div class="field[^"]*"><label for="' + field_id + r'">'
    match = re.search(start + r'.*?</div>(?=\s*<div class="field|\s*</div>)', page, re.S)
    assert match, field_id
    return match.group(0)


def test_an_incomplete_usulan_lists_its_errors_at_the_top_linked_and_beside_each_field():
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(1)
    url = reverse("round-proposal", args=[round_.pk])
    page = client_for(operator).post(url, {
        "kk_number": "", "dusun": "Dusun Tiga", "rt": "1", "rw": "2",
        "members-TOTAL_FORMS": "1", "members-INITIAL_FORMS": "0", "members-MIN_NUM_FORMS": "1",
        "members-MAX_NUM_FORMS": "1000", "members-0-name": "Suparman", "members-0-nik": ""}).content.decode()
    summary = re.search(r'<div class="card error-summary".*?</div>', page, re.S).group(0)
    assert 'href="#id_kk_number"' in summary and 'href="#id_members-0-nik"' in summary
    assert "Periksa" in summary and "isian sebelum menyimpan" in summary
    kk = field_block(page, "id_kk_number")
    assert 'class="field has-error"' in kk and "errorlist" in kk and 'title="wajib diisi"' in kk
    assert "<p><label" not in page  # no error list inside a paragraph any more
    assert "---------" not in page and '<option value="" selected>Pilih</option>' in page  # empty choices in words
    assert 'value="Dusun Tiga"' in page and 'value="Suparman"' in page  # what was typed is kept


def test_a_form_without_errors_shows_no_summary():
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = round_with_families(1)
    page = client_for(operator).get(reverse("round-proposal", args=[round_.pk])).content.decode()
    assert "error-summary" not in page and 'title="wajib diisi"' in page
