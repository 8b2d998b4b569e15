"""Applying a batch of data awal: set-based, exactly once, bad rows held on their own, split into village rounds."""
import copy

import pytest

from central.client import CANONICAL
from central.ingest import BatchRejected, ingest_batch
from central.models import BatchState, CentralBatch, DownloadedPage, FamilyDigest
from central.protocol import canonical_json, checksum, combined_checksum
from central.services import batch_sync
from registry.models import DesilRanking, Family, Member
from verification.models import RoundFamily, VerificationRound

from ..factories import FamilyFactory, village
from .helpers import downloaded_batch, families_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def families():
    return families_for("12.72", 120, seed=4)


def register_counts():
    return (Family.objects.count(), Member.objects.count(), DesilRanking.objects.count(),
            VerificationRound.objects.count(), RoundFamily.objects.count(),
            Family.history.count(), Member.history.count())


def test_a_batch_lands_in_the_register_with_one_round_per_village(families):
    batch = downloaded_batch("12.72-PKH-0001", families)
    result = ingest_batch(batch)
    assert (result.families, result.members) == (120, sum(len(f["members"]) for f in families))
    assert Family.objects.filter(origin=Family.Origin.CENTRAL).count() == 120
    assert Member.objects.count() == result.members
    villages = {f["village_code"] for f in families}
    rounds = VerificationRound.objects.filter(batch_ref="12.72-PKH-0001")
    assert set(rounds.values_list("village_id", flat=True)) == villages
    assert all(r.state == "open" and r.programme == "PKH" for r in rounds)
    assert RoundFamily.objects.filter(round__batch_ref="12.72-PKH-0001").count() == 120
    sample = families[7]
    family = Family.objects.get(central_id=sample["central_id"])
    assert family.round_entries.get().round.village_id == sample["village_code"] == family.village_id
    assert family.desil == sample["desil"] and family.floor_type == sample["attrs"]["floor_type"]
    assert family.has_car is sample["attrs"]["has_car"]
    assert sorted(family.members.values_list("nik", flat=True)) == sorted(m["nik"] for m in sample["members"])
    batch.refresh_from_db()
    assert batch.rows_done == batch.rows_total == result.families + result.members


def test_applying_the_same_batch_twice_changes_nothing(families):
    ingest_batch(downloaded_batch("12.72-PKH-0001", families))
    before = register_counts()
    stamps = dict(Family.objects.values_list("id", "updated_at"))
    again = ingest_batch(downloaded_batch("12.72-PKH-0001-again", families))
    assert (again.families_changed, again.members_changed) == (0, 0)
    assert register_counts()[:3] == before[:3] and register_counts()[5:] == before[5:]
    assert dict(Family.objects.values_list("id", "updated_at")) == stamps


def test_a_later_batch_updates_a_family_and_records_before_and_after(families):
    ingest_batch(downloaded_batch("12.72-PKH-0001", families))
    changed = copy.deepcopy(families[:3])
    changed[0]["attrs"]["floor_type"] = "ceramic" if changed[0]["attrs"]["floor_type"] != "ceramic" else "earth"
    result = ingest_batch(downloaded_batch("12.72-PKH-0002", changed))
    assert result.families_changed == 1
    family = Family.objects.get(central_id=changed[0]["central_id"])
    assert family.floor_type == changed[0]["attrs"]["floor_type"] and family.version == 2
    record = family.history.get()
    assert record.history_type == "~" and record.history_change_reason == "central batch 12.72-PKH-0002"
    assert record.floor_type == family.floor_type
    # The second batch has its own rounds for the same families.
    assert RoundFamily.objects.filter(family=family).count() == 2


@pytest.mark.parametrize("breakage,message", [
    (lambda f: f["members"][0].update(nik="12345"), "NIK"),
    (lambda f: f["members"][0].update(nik="9999" + f["members"][0]["nik"][4:]), "99.99"),
    (lambda f: f.update(village_code="12.09.08.2002"), "12.09.08.2002"),
    (lambda f: f["attrs"].update(floor_type="gold"), "floor_type"),
    (lambda f: f.update(kk_number="1272013202201234"), "KK"),
    # Digits that str.isdigit takes: a superscript made int() fail (a crash), Arabic-Indic ones a new family.
    (lambda f: f["members"][0].update(nik=f["members"][0]["nik"][:10] + "²²" + f["members"][0]["nik"][12:]), "NIK"),
    (lambda f: f.update(kk_number=f["kk_number"].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))), "KK"),
])
def test_a_bad_row_is_held_with_its_page_place_and_reason_and_the_rest_is_applied(families, breakage, message):
    broken = copy.deepcopy(families)
    breakage(broken[45])  # page 2 (40 a page), family 6
    batch = downloaded_batch("12.72-PKH-0001", broken)
    batch = batch_sync(batch_pk=batch.pk, client=None)
    assert batch.state == BatchState.INGESTED and batch.rows_held == 1
    held = batch.held_rows.get()
    assert (held.page, held.position, held.central_id) == (2, 6, broken[45]["central_id"])
    assert message in held.reasons and held.document == broken[45]
    assert not Family.objects.filter(central_id=broken[45]["central_id"]).exists()
    assert Family.objects.count() == RoundFamily.objects.count() == 119
    assert Member.objects.count() == sum(len(f["members"]) for f in broken) - len(broken[45]["members"])
    # A village outside the regency is not a place to file the row under: it goes to the regency.
    assert held.area_code == (broken[45]["village_code"] if broken[45]["village_code"].startswith("12.72.")
                              else "12.72")


def test_a_family_giving_an_id_kk_or_nik_of_an_earlier_family_is_held_and_the_first_applied(families):
    twice = copy.deepcopy(families)
    twice[50]["central_id"] = twice[3]["central_id"]
    twice[60]["kk_number"] = twice[4]["kk_number"]
    twice[70]["members"][0]["nik"] = twice[5]["members"][0]["nik"]
    twice[70]["members"][0]["birth_date"] = twice[5]["members"][0]["birth_date"]
    twice[70]["members"][0]["sex"] = twice[5]["members"][0]["sex"]
    batch = batch_sync(batch_pk=downloaded_batch("12.72-PKH-0001", twice).pk, client=None)
    assert batch.state == BatchState.INGESTED and batch.rows_held == 3
    held = {(r.page, r.position): r for r in batch.held_rows.all()}
    assert set(held) == {(2, 11), (2, 21), (2, 31)}
    assert twice[3]["central_id"] in held[2, 11].reasons and twice[4]["kk_number"] in held[2, 21].reasons
    assert twice[5]["members"][0]["nik"] in held[2, 31].reasons and held[2, 31].document == twice[70]
    assert Family.objects.get(central_id=twice[3]["central_id"]).kk_number == twice[3]["kk_number"]
    assert Family.objects.count() == 117


def test_a_page_that_is_not_a_list_of_families_holds_the_whole_batch(families):
    batch = downloaded_batch("12.72-PKH-0001", families)
    DownloadedPage.objects.filter(ref=batch.batch_id, number=2).update(body='{"families": []}')
    with pytest.raises(BatchRejected, match="2"):
        ingest_batch(batch)
    assert register_counts() == (0, 0, 0, 0, 0, 0, 0)
    assert batch_sync(batch_pk=batch.pk, client=None).state == BatchState.QUARANTINED


def test_an_unchanged_republication_is_recognised_and_writes_nothing(families):
    ingest_batch(downloaded_batch("12.72-PKH-0001", families))
    before = register_counts()
    stamps = dict(Family.objects.values_list("id", "updated_at"))
    changed = copy.deepcopy(families)
    changed[9]["members"][0]["name"] = "Nama Baru"
    again = ingest_batch(downloaded_batch("12.72-PKH-0002", changed))
    assert (again.families_unchanged, again.families_changed, again.members_changed) == (119, 0, 1)
    assert Member.history.count() == before[6] + 1 and Family.history.count() == before[5]
    assert dict(Family.objects.values_list("id", "updated_at")) == stamps
    # Every family of the re-publication is in its rounds, changed or not.
    assert RoundFamily.objects.filter(round__batch_ref="12.72-PKH-0002").count() == 120
    assert FamilyDigest.objects.count() == 120


def test_a_family_removed_from_the_register_is_applied_again_despite_its_digest(families):
    ingest_batch(downloaded_batch("12.72-PKH-0001", families))
    gone = Family.objects.get(central_id=families[0]["central_id"])
    RoundFamily.objects.filter(family=gone).delete()
    DesilRanking.objects.filter(family=gone).delete()
    gone.members.all().delete()
    gone.delete()
    again = ingest_batch(downloaded_batch("12.72-PKH-0002", families))
    assert again.families_unchanged == 119 and again.families_changed == 1
    assert Family.objects.filter(central_id=families[0]["central_id"]).exists()


def test_a_batch_clashing_with_the_register_holds_only_the_clashing_family(families):
    # A KK number the register already holds for another family: that family is held for Dinsos (see
    # test_clashes.py); the other 119 are applied and the batch is not quarantined.
    other = FamilyFactory(village=village("12.72.01.1001"), kk_number=families[100]["kk_number"], central_id="OTHER")
    batch = downloaded_batch("12.72-PKH-0001", families)
    batch = batch_sync(batch_pk=batch.pk, client=None)
    assert batch.state == BatchState.INGESTED and batch.last_error == ""
    assert Family.objects.filter(central_id__in=[f["central_id"] for f in families]).count() == 119
    assert not Family.objects.filter(central_id=families[100]["central_id"]).exists()
    clash = batch.clashes.get()
    assert (clash.central_id, clash.kind, clash.register_family) == (families[100]["central_id"], "kk", other)
    assert RoundFamily.objects.filter(round__batch_ref="12.72-PKH-0001").count() == 119
    # An ingested batch is not applied again by the periodic sync.
    assert batch_sync(batch_pk=batch.pk, client=None).state == BatchState.INGESTED


class _Republishing:
    """A centre that lists its page checksums and must not be asked for a page the portal already holds."""

    def __init__(self, checksums, pages=None):
        self.checksums, self.pages, self.asked = checksums, pages or {}, []

    def batch_page_checksums(self, batch_id):
        return self.checksums

    def batch_page(self, batch_id, number, *, decoded=True):
        self.asked.append(number)
        return self.pages[number]


def test_a_republished_page_the_portal_holds_is_copied_not_downloaded(families):
    first = downloaded_batch("12.72-PKH-0001", families)
    ingest_batch(first)
    stored = list(DownloadedPage.objects.filter(ref=first.batch_id).order_by("number"))
    changed = copy.deepcopy(families[80:])
    changed[0]["address"] = "Jl. Baru No. 1"
    third = {"families": changed, "checksum": checksum(changed), "page": 3, CANONICAL: canonical_json(changed)}
    sums = [stored[0].checksum, stored[1].checksum, third["checksum"]]
    again = CentralBatch.objects.create(
        batch_id="12.72-PKH-0002", regency_code="12.72", programme="PKH", family_count=120, page_size=40,
        page_count=3, checksum=combined_checksum(sums))
    centre = _Republishing(sums, {3: third})
    again = batch_sync(batch_pk=again.pk, client=centre)
    assert centre.asked == [3] and again.state == BatchState.INGESTED
    assert again.families_changed == 1 and RoundFamily.objects.filter(round__batch_ref=again.batch_id).count() == 120
