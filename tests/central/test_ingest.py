"""Applying a batch of data awal: set-based, exactly once, all-or-nothing, split into village rounds."""
import copy

import pytest

from central.ingest import BatchRejected, ingest_batch
from central.models import BatchState
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
def test_a_bad_row_holds_the_whole_batch_and_names_page_family_and_field(families, breakage, message):
    broken = copy.deepcopy(families)
    breakage(broken[45])  # page 2 (40 a page), family 6
    batch = downloaded_batch("12.72-PKH-0001", broken)
    with pytest.raises(BatchRejected) as caught:
        ingest_batch(batch)
    assert "halaman 2, keluarga 6" in str(caught.value) and message in str(caught.value)
    assert register_counts() == (0, 0, 0, 0, 0, 0, 0)


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
