"""A clash with the register holds the clashing family, not the batch; Dinsos resolves it family by family."""
import datetime as dt
from types import SimpleNamespace

import pytest

from accounts.models import Role
from central import clashes, ingest
from central.clashes import clash_resolve
from central.ingest import ingest_batch
from central.models import BatchClash, BatchState, CentralBatch
from central.services import batch_sync
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from registry.models import DesilRanking, Family, Member
from verification.models import RoundFamily, VerificationRound

from ..factories import FamilyFactory, MemberFactory, UserFactory, village
from .helpers import clashing_register, downloaded_batch, families_for

pytestmark = pytest.mark.django_db
BATCH = "12.72-PKH-0001"
NOTE = "Dicek ke Dukcapil dan ke desa."


@pytest.fixture
def families():
    return families_for("12.72", 50, seed=12)


@pytest.fixture
def register(families):
    return clashing_register(families)


@pytest.fixture(params=["postgresql", "orm"])
def path(request, monkeypatch):
    """Both ingest paths: PostgreSQL's COPY staging and the ORM path the SQLite demo takes."""
    if request.param == "orm":
        monkeypatch.setattr(ingest, "connection", SimpleNamespace(vendor="sqlite"))
    return request.param


def dinsos(area="12.72"):
    return UserFactory(role=Role.DINSOS, area_id=area)


def batch_ids(families):
    return [f["central_id"] for f in families]


def register_counts():
    return (Family.objects.count(), Member.objects.count(), DesilRanking.objects.count(),
            VerificationRound.objects.count(), RoundFamily.objects.count(), Family.history.count(),
            Member.history.count(), BatchClash.objects.count())


def applied(families, **batch_fields) -> CentralBatch:
    batch = downloaded_batch(BATCH, families)
    if batch_fields:
        CentralBatch.objects.filter(pk=batch.pk).update(**batch_fields)
    return batch_sync(batch_pk=batch.pk, client=None)


def test_a_kk_clash_and_a_nik_clash_hold_two_families_and_the_other_48_are_applied(families, register, path):
    batch = applied(families)
    assert batch.state == BatchState.INGESTED and batch.last_error == ""
    held = {families[10]["central_id"], families[20]["central_id"]}
    in_register = set(Family.objects.filter(central_id__in=batch_ids(families)).values_list("central_id", flat=True))
    assert len(in_register) == 48 and not in_register & held
    entries = RoundFamily.objects.filter(round__batch_ref=BATCH)
    assert entries.count() == 48 and not entries.filter(family__central_id__in=held).exists()

    kk = batch.clashes.get(kind=BatchClash.Kind.KK)
    assert (kk.central_id, kk.state, kk.register_family) == (families[10]["central_id"], "held", register.kk_holder)
    assert kk.village_id == families[10]["village_code"]
    assert kk.central_version == families[10]  # the document as the centre sent it
    assert families[10]["kk_number"] in kk.reason and "DT-LAMA-1" in kk.reason
    assert "sudah dipakai keluarga lain" in kk.reason
    assert kk.register_version["central_id"] == "DT-LAMA-1"
    assert kk.register_version["attrs"]["floor_type"] == "earth"
    assert {m["name"] for m in kk.register_version["members"]} == {"Ani Lubis"}

    nik = batch.clashes.get(kind=BatchClash.Kind.NIK)
    assert (nik.central_id, nik.register_family) == (families[20]["central_id"], register.nik_holder)
    assert nik.central_version == families[20]
    assert register.moved.nik in nik.reason and "DT-LAMA-2" in nik.reason
    assert families[20]["members"][0]["name"] in nik.reason
    assert {m["nik"] for m in nik.register_version["members"]} == set(
        register.nik_holder.members.values_list("nik", flat=True))

    # Nothing of the register's side moved.
    register.kk_holder.refresh_from_db()
    register.moved.refresh_from_db()
    assert register.kk_holder.central_id == "DT-LAMA-1" and register.kk_holder.floor_type == "earth"
    assert register.moved.family_id == register.nik_holder.pk and register.moved.name == "Budi Register"


def test_applying_the_batch_again_changes_nothing(families, register, path):
    batch = applied(families)
    before = register_counts()
    clashes_before = list(BatchClash.objects.order_by("pk").values())
    again = ingest_batch(CentralBatch.objects.get(pk=batch.pk))
    assert again.families_held == 2
    assert register_counts() == before
    assert list(BatchClash.objects.order_by("pk").values()) == clashes_before


def test_an_usulan_with_the_batchs_kk_is_linked_not_duplicated(families, path):
    centre = families[5]
    head = centre["members"][0]
    usulan = FamilyFactory(origin=Family.Origin.PROPOSAL, central_id=None, kk_number=centre["kk_number"],
                           village=village(centre["village_code"]), floor_type="earth")
    own = MemberFactory(family=usulan, nik=head["nik"], name=head["name"], sex=head["sex"],
                        birth_date=dt.date.fromisoformat(head["birth_date"]))
    extra = MemberFactory(family=usulan, name="Anak Baru", relationship=Member.Relationship.CHILD)
    batch = applied(families)

    assert batch.state == BatchState.INGESTED and not batch.clashes.exists()
    assert Family.objects.filter(kk_number=centre["kk_number"]).count() == 1
    usulan.refresh_from_db()
    assert usulan.central_id == centre["central_id"] and usulan.origin == Family.Origin.PROPOSAL
    assert usulan.floor_type == centre["attrs"]["floor_type"]  # then updated like any family of the batch
    link = usulan.history.filter(central_id=centre["central_id"]).earliest("history_date")
    assert link.history_change_reason == f"usulan ditautkan ke ID DTSEN {centre['central_id']}"
    niks = set(usulan.members.values_list("nik", flat=True))
    assert niks == {m["nik"] for m in centre["members"]} | {extra.nik}  # the village's newborn stays
    assert Member.objects.get(nik=head["nik"]).pk == own.pk
    assert RoundFamily.objects.filter(round__batch_ref=BATCH, family=usulan).exists()


def test_a_person_the_batch_moves_between_two_of_its_families_is_not_a_clash(families):
    giver = FamilyFactory(village=village(families[30]["village_code"]), central_id=families[30]["central_id"],
                          kk_number=families[30]["kk_number"])
    person = families[31]["members"][0]
    MemberFactory(family=giver, nik=person["nik"], sex=person["sex"],
                  birth_date=dt.date.fromisoformat(person["birth_date"]))
    batch = applied(families)
    assert not batch.clashes.exists()
    assert Member.objects.get(nik=person["nik"]).family.central_id == families[31]["central_id"]


def test_an_unforeseen_refusal_of_the_register_still_holds_the_whole_batch(families, register, monkeypatch):
    # Detection misses the clash (on either path): the register's constraints still refuse the batch.
    monkeypatch.setattr(clashes, "clashes_hold_sql", lambda cursor, batch: 0)
    monkeypatch.setattr(clashes, "clashes_hold_orm", lambda batch, families, members: (families, members, 0))
    before = register_counts()
    batch = applied(families)
    assert batch.state == BatchState.QUARANTINED and "kk_number" in batch.last_error
    assert register_counts() == before


# -- resolution --------------------------------------------------------------------------------------------
@pytest.fixture
def held(families, register):
    batch = applied(families)
    return SimpleNamespace(batch=batch, kk=batch.clashes.get(kind="kk"), nik=batch.clashes.get(kind="nik"),
                           **vars(register))


def test_taking_the_centres_version_of_a_kk_clash_gives_the_register_family_the_centres_identity(families, held):
    centre, officer = families[10], dinsos()
    clash = clash_resolve(actor=officer, clash_id=held.kk.pk, resolution="take_centre", note=NOTE)
    assert (clash.state, clash.resolution, clash.note, clash.resolved_by) == ("resolved", "take_centre", NOTE,
                                                                             officer)
    family = Family.objects.get(pk=held.kk_holder.pk)
    assert (family.central_id, family.kk_number, family.village_id) == (
        centre["central_id"], centre["kk_number"], centre["village_code"])
    assert (family.floor_type, family.has_car, family.address) == (
        centre["attrs"]["floor_type"], centre["attrs"]["has_car"], centre["address"])
    assert family.desil == centre["desil_history"][-1]["desil"]
    names = dict(family.members.values_list("nik", "name"))
    assert {m["nik"]: m["name"] for m in centre["members"]}.items() <= names.items()
    assert "Ani Lubis" in names.values()  # the register's own member stays for the village to verify
    record = family.history.latest("history_date")
    assert record.history_user == officer and record.central_id == centre["central_id"]
    assert record.history_change_reason == f"bentrok batch {BATCH}: versi pusat diambil"
    entry = RoundFamily.objects.get(family=family, round__batch_ref=BATCH)
    assert entry.round.village_id == centre["village_code"] and entry.decision == ""
    assert RoundFamily.objects.filter(round__batch_ref=BATCH).count() == 49


def test_taking_the_centres_version_of_a_nik_clash_adds_the_family_and_moves_the_person(families, held):
    centre, officer = families[20], dinsos()
    clash_resolve(actor=officer, clash_id=held.nik.pk, resolution="take_centre", note=NOTE)
    family = Family.objects.get(central_id=centre["central_id"])
    assert family.kk_number == centre["kk_number"] and family.origin == Family.Origin.CENTRAL
    assert set(family.members.values_list("nik", flat=True)) == {m["nik"] for m in centre["members"]}
    moved = Member.objects.get(pk=held.moved.pk)
    assert moved.family == family and moved.name == centre["members"][0]["name"]
    before, after = moved.history.order_by("history_date")[:2]
    assert before.family_id == held.nik_holder.pk and after.family_id == family.pk
    assert after.history_user == officer and BATCH in after.history_change_reason
    assert list(held.nik_holder.members.values_list("name", flat=True)) == ["Siti Register"]
    assert RoundFamily.objects.filter(family=family, round__batch_ref=BATCH,
                                      round__village_id=centre["village_code"]).exists()


def test_keeping_the_registers_version_changes_nothing_in_the_register(families, held):
    before = register_counts()
    clash = clash_resolve(actor=dinsos(), clash_id=held.kk.pk, resolution="keep_register", note=NOTE)
    assert (clash.state, clash.resolution) == ("resolved", "keep_register")
    assert register_counts() == before
    held.kk_holder.refresh_from_db()
    assert held.kk_holder.central_id == "DT-LAMA-1"
    assert not Family.objects.filter(central_id=families[10]["central_id"]).exists()


def test_a_duplicate_is_recorded_against_the_register_family_and_stays_out(families, held):
    before = register_counts()
    clash_resolve(actor=dinsos(), clash_id=held.nik.pk, resolution="duplicate", note=NOTE)
    assert register_counts() == before
    duplicates = BatchClash.objects.filter(resolution="duplicate", batch__batch_id=BATCH)
    assert list(duplicates.values_list("central_id", "register_family", "village")) == [
        (families[20]["central_id"], held.nik_holder.pk, families[20]["village_code"])]
    assert not Family.objects.filter(central_id=families[20]["central_id"]).exists()


def test_a_family_taken_into_a_village_without_a_round_gets_one_with_the_batchs_calendar(families, register):
    # Family 10 alone in a village of the batch: held, so the batch made no round there.
    used = {f["village_code"] for f in families}
    lonely = next(v for v in ingest._Validator(SimpleNamespace(regency_code="12.72")).villages if v not in used)
    families[10]["village_code"] = lonely
    batch = applied(families, deadline=dt.date(2026, 12, 15), cycle="2026-Q4")
    assert not VerificationRound.objects.filter(batch_ref=BATCH, village_id=lonely).exists()
    clash_resolve(actor=dinsos(), clash_id=batch.clashes.get(kind="kk").pk, resolution="take_centre", note=NOTE)
    round_ = VerificationRound.objects.get(batch_ref=BATCH, village_id=lonely)
    other = VerificationRound.objects.filter(batch_ref=BATCH).exclude(pk=round_.pk).first()
    assert (round_.programme, round_.state, round_.deadline) == ("PKH", "open", dt.date(2026, 12, 15))
    assert round_.period.code == "2026-Q4" and round_.period_id == other.period_id
    assert list(round_.entries.values_list("family__central_id", flat=True)) == [families[10]["central_id"]]


def test_taking_the_centres_version_into_a_submitted_round_is_refused(families, held):
    VerificationRound.objects.filter(batch_ref=BATCH, village_id=families[10]["village_code"]) \
        .update(state="submitted")
    before = register_counts()
    with pytest.raises(InvalidState, match="Kembalikan putaran"):
        clash_resolve(actor=dinsos(), clash_id=held.kk.pk, resolution="take_centre", note=NOTE)
    assert register_counts() == before
    assert BatchClash.objects.get(pk=held.kk.pk).state == "held"


def test_only_dinsos_of_the_regency_or_an_administrator_resolves(families, held):
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=families[10]["village_code"])
    with pytest.raises(NotAllowed):
        clash_resolve(actor=operator, clash_id=held.kk.pk, resolution="keep_register", note=NOTE)
    with pytest.raises(NotInScope):
        clash_resolve(actor=dinsos("12.09"), clash_id=held.kk.pk, resolution="keep_register", note=NOTE)
    admin = UserFactory(role=Role.ADMIN, area_id=None)
    assert clash_resolve(actor=admin, clash_id=held.kk.pk, resolution="keep_register", note=NOTE).resolved_by == admin


def test_a_clash_is_resolved_once_and_never_without_a_note(held):
    with pytest.raises(InvalidState) as empty:
        clash_resolve(actor=dinsos(), clash_id=held.kk.pk, resolution="keep_register", note="   ")
    assert "note" in empty.value.field_errors
    with pytest.raises(InvalidState):
        clash_resolve(actor=dinsos(), clash_id=held.kk.pk, resolution="merge", note=NOTE)
    assert BatchClash.objects.get(pk=held.kk.pk).state == "held"
    clash_resolve(actor=dinsos(), clash_id=held.kk.pk, resolution="keep_register", note=NOTE)
    with pytest.raises(InvalidState, match="sudah diselesaikan"):
        clash_resolve(actor=dinsos(), clash_id=held.kk.pk, resolution="take_centre", note=NOTE)
    assert BatchClash.objects.get(pk=held.kk.pk).resolution == "keep_register"
