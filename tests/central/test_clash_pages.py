"""The pages of families held for a clash: Dinsos lists them, compares both versions and decides."""
import re
from types import SimpleNamespace

import pytest
from django.urls import reverse

from accounts.models import Role
from central import selectors
from central.models import BatchClash, CentralBatch
from central.services import batch_sync
from registry.models import Family, Member
from verification.models import RoundFamily

from ..factories import UserFactory, client_for
from .helpers import clashing_register, downloaded_batch, families_for

pytestmark = pytest.mark.django_db
BATCH = "12.72-PKH-0001"


@pytest.fixture
def held():
    families = families_for("12.72", 50, seed=12)
    register = clashing_register(families)
    batch = batch_sync(batch_pk=downloaded_batch(BATCH, families).pk, client=None)
    return SimpleNamespace(families=families, batch=batch, kk=batch.clashes.get(kind="kk"),
                           nik=batch.clashes.get(kind="nik"), **vars(register))


@pytest.fixture
def officer():
    return client_for(UserFactory(role=Role.DINSOS, area_id="12.72"))


def extra_clashes(batch: CentralBatch, n: int, *, state="held") -> None:
    BatchClash.objects.bulk_create(
        BatchClash(batch=batch, central_id=f"DTX{state}{i}", village_id="12.72.01.1001", kind="kk", reason="x",
                   central_version={}, state=state) for i in range(n))


def test_the_sync_page_and_the_batch_page_link_the_held_families(held, officer):
    page = officer.get(reverse("sync-overview")).content.decode()
    link = f'{reverse("sync-clashes")}?state=held&amp;batch={held.batch.pk}'
    assert "2 keluarga ditahan" in page and link in page
    detail = officer.get(reverse("sync-batch", args=[held.batch.pk])).content.decode()
    assert re.search(r'data-testid="held-count"><a href="[^"]+">2</a>', detail)
    assert "Keluarga ditahan (bentrok dengan register)" in detail


def test_the_list_shows_held_and_resolved_families_in_a_fixed_number_of_queries(held, officer,
                                                                                django_assert_num_queries):
    url = reverse("sync-clashes")
    with django_assert_num_queries(6) as few:
        page = officer.get(url).content.decode()
    assert held.kk.central_id in page and held.nik.central_id in page and "Nomor KK dipakai keluarga lain" in page
    extra_clashes(held.batch, 20)
    extra_clashes(held.batch, 20, state="resolved")
    with django_assert_num_queries(len(few.captured_queries)):
        page = officer.get(url).content.decode()
    assert "42 keluarga" in page
    held_only = officer.get(url, {"state": "held", "batch": held.batch.pk}).content.decode()
    assert "22 keluarga" in held_only and "DTXresolved0" not in held_only
    resolved = officer.get(url, {"state": "resolved"}).content.decode()
    assert "20 keluarga" in resolved and held.kk.central_id not in resolved


def test_another_regencys_dinsos_sees_none_of_them_and_a_village_operator_has_no_page(held):
    other = client_for(UserFactory(role=Role.DINSOS, area_id="12.09"))
    assert held.kk.central_id not in other.get(reverse("sync-clashes")).content.decode()
    assert other.get(reverse("sync-clash", args=[held.kk.pk])).status_code == 404
    assert other.post(reverse("sync-clash", args=[held.kk.pk]),
                      {"resolution": "keep_register", "note": "x"}).status_code == 404
    operator = client_for(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=held.families[10]["village_code"]))
    assert operator.get(reverse("sync-clashes")).status_code == 403
    assert operator.post(reverse("sync-clash", args=[held.kk.pk]),
                         {"resolution": "take_centre", "note": "x"}).status_code == 403
    assert BatchClash.objects.get(pk=held.kk.pk).state == "held"


def test_the_detail_shows_both_versions_with_the_differences_marked(held, officer):
    centre = held.families[10]
    page = officer.get(reverse("sync-clash", args=[held.kk.pk])).content.decode()
    assert held.kk.reason in page
    family_rows = page.split('data-testid="family-sides"')[1].split("</table>")[0]
    assert re.search(r'data-differs="1"><td[^>]*>ID DTSEN</td>\s*<td[^>]*><mark>' + centre["central_id"]
                     + r'</mark></td>\s*<td[^>]*><mark>DT-LAMA-1</mark>', family_rows)
    assert re.search(r'<td[^>]*>Nomor KK</td>\s*<td[^>]*>' + centre["kk_number"], family_rows)  # same KK
    attrs = page.split('data-testid="attr-sides"')[1].split("</table>")[0]
    if centre["attrs"]["floor_type"] != "earth":
        assert re.search(r"<td[^>]*>Lantai</td>\s*<td[^>]*><mark>[^<]+</mark></td>\s*<td[^>]*><mark>Tanah</mark>",
                         attrs)
    members = page.split('data-testid="member-sides"')[1].split("</table>")[0]
    for person in centre["members"]:
        assert f'data-nik="{person["nik"]}"' in members and person["name"] in members
    assert "tidak ada di keluarga register" in members and "Ani Lubis" in members
    assert "tidak tercantum di versi pusat" in members
    assert 'type="radio" name="resolution" value="take_centre"' in page and "Simpan keputusan" in page


def test_taking_the_centres_version_from_the_page_confirms_what_happened(held, officer):
    centre = held.families[20]
    response = officer.post(reverse("sync-clash", args=[held.nik.pk]),
                            {"resolution": "take_centre", "note": "NIK dicek ke Dukcapil."}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain == [(reverse("sync-clash", args=[held.nik.pk]), 302)]
    assert f"Selesai: versi pusat {centre['central_id']} (KK {centre['kk_number']}) kini ada di register" in page
    assert "NIK dicek ke Dukcapil." in page and 'name="resolution"' not in page  # no form once resolved
    family = Family.objects.get(central_id=centre["central_id"])
    assert Member.objects.get(nik=held.moved.nik).family == family
    assert RoundFamily.objects.filter(family=family, round__batch_ref=BATCH).exists()


def test_a_decision_without_a_note_or_made_twice_is_refused_with_a_message(held, officer):
    url = reverse("sync-clash", args=[held.kk.pk])
    page = officer.post(url, {"resolution": "take_centre", "note": " "}).content.decode()
    assert "Bentrok belum diselesaikan" in page and "Tulis catatan alasan keputusan ini." in page
    page = officer.post(url, {"note": "Sudah dicek."}).content.decode()
    assert "Pilih cara menyelesaikan bentrok." in page
    assert BatchClash.objects.get(pk=held.kk.pk).state == "held"
    officer.post(url, {"resolution": "keep_register", "note": "Register benar."})
    page = officer.post(url, {"resolution": "take_centre", "note": "Ganti."}, follow=True).content.decode()
    assert "Bentrok ini sudah diselesaikan (Pertahankan versi register)" in page
    assert BatchClash.objects.get(pk=held.kk.pk).resolution == "keep_register"


def test_the_batch_page_lists_the_rows_held_for_breaking_the_rules_in_the_users_area(django_assert_max_num_queries):
    families = families_for("12.72", 50, seed=12)
    families[3]["members"][0]["nik"] = "12345"
    families[45]["village_code"] = "12.09.08.2002"  # not a village of the regency: filed under the regency
    batch = batch_sync(batch_pk=downloaded_batch(BATCH, families).pk, client=None)
    assert batch.rows_held == 2
    officer = client_for(UserFactory(role=Role.DINSOS, area_id="12.72"))
    overview = officer.get(reverse("sync-overview")).content.decode()
    assert 'data-testid="rows-held"' in overview
    with django_assert_max_num_queries(12):
        page = officer.get(reverse("sync-batch", args=[batch.pk])).content.decode()
    assert page.count('data-testid="held-row"') == 2
    assert families[3]["central_id"] in page and families[45]["central_id"] in page and "12.09.08.2002" in page
    # Scoped by the row's village: someone of that kecamatan sees its row, not the one filed under the regency.
    local = UserFactory(role=Role.DINSOS, area_id=families[3]["village_code"][:8])
    assert list(selectors.batch_held_rows(user=local, batch=batch).values_list("central_id", flat=True)) == [
        families[3]["central_id"]]
