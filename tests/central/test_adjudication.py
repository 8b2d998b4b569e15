"""Likely duplicates a central batch adds become items of Dinsos's adjudication queue: both families side by side,
kept, merged or marked, every action audited, nothing overwritten silently."""
import datetime as dt
import threading

import pytest
from django.db import connection

from accounts.models import Role
from central.clashes import clash_resolve
from central.models import BatchClash
from central.selectors import clash_sides
from central.services import batch_sync
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from registry.models import Family, Member
from verification.models import RoundFamily, VerificationRound

from ..factories import UserFactory
from .helpers import alike_register_family, downloaded_batch, families_for, head_of, swapped_date

pytestmark = pytest.mark.django_db
BATCH = "12.72-PKH-0031"
NOTE = "Dicek ke desa: satu keluarga yang sama."


@pytest.fixture
def families():
    return families_for("12.72", 50, seed=31)


def dinsos(area="12.72", username="dinsos-adj"):
    return UserFactory(role=Role.DINSOS, area_id=area, username=username)


def applied(families):
    return batch_sync(batch_pk=downloaded_batch(BATCH, families).pk, client=None)


def the_item(doc) -> BatchClash:
    return BatchClash.objects.select_related("batch_family", "register_family").get(central_id=doc["central_id"])


def test_a_family_the_batch_adds_like_one_in_the_register_is_applied_and_queued_side_by_side(families):
    doc, register = alike_register_family(families)
    before = Family.objects.values().get(pk=register.pk)
    batch = applied(families)

    item = the_item(doc)
    assert BatchClash.objects.count() == 1  # the other 49 families are nobody's duplicates
    assert item.kind == BatchClash.Kind.SIMILAR and item.state == BatchClash.State.HELD
    assert item.register_family_id == register.pk and item.likelihood >= 0.6
    # Applied, not held: the centre's family is in the register and in its village's round; the register's own
    # family is untouched.
    assert item.batch_family.central_id == doc["central_id"] and item.batch_family.kk_number == doc["kk_number"]
    assert RoundFamily.objects.filter(family=item.batch_family, round__batch_ref=BATCH).exists()
    assert Family.objects.values().get(pk=register.pk) == before
    assert "nama yang sama tanpa satu kata (marga)" in item.reason
    born = dt.date.fromisoformat(head_of(doc)["birth_date"])
    assert ("tanggal lahir dengan tanggal dan bulan tertukar" if swapped_date(born) != born
            else "tanggal lahir yang sama") in item.reason
    assert batch.families_unchecked == 0

    sides = clash_sides(item)
    paired = [p for p in sides["members"] if p.in_centre and p.in_register]
    assert len(paired) == 2  # the head and the other member matched by name across other NIKs
    assert {p.name for p in paired} >= {head_of(doc)["name"]}


def test_a_second_application_of_the_batch_queues_nothing_twice(families):
    doc, _register = alike_register_family(families)
    batch = applied(families)
    batch_sync(batch_pk=batch.pk, client=None)
    assert BatchClash.objects.filter(central_id=doc["central_id"]).count() == 1


def test_keeping_both_changes_nothing(families):
    doc, register = alike_register_family(families)
    applied(families)
    item = the_item(doc)
    members = sorted(Member.objects.values_list("pk", "family_id", "name"))
    clash_resolve(actor=dinsos(), clash_id=item.pk, resolution="keep_both", note=NOTE)
    item.refresh_from_db()
    assert (item.state, item.resolution, item.resolved_by.username) == ("resolved", "keep_both", "dinsos-adj")
    assert sorted(Member.objects.values_list("pk", "family_id", "name")) == members
    assert Family.objects.filter(pk__in=[register.pk, item.batch_family_id]).count() == 2


def test_merging_keeps_each_person_once_moves_the_others_in_and_records_why(families):
    doc, register = alike_register_family(families)
    applied(families)
    item = the_item(doc)
    batch_family_id = item.batch_family_id
    head, other = head_of(doc), next(m for m in doc["members"] if m["relationship"] != "head")
    register_niks = set(Member.objects.filter(family=register).values_list("nik", flat=True))

    clash_resolve(actor=dinsos(), clash_id=item.pk, resolution="merge", note=NOTE)

    register.refresh_from_db()
    assert not Family.objects.filter(pk=batch_family_id).exists()
    # The register's record of the two people in both stays; the centre's others moved in, with their NIKs.
    kept = {m.nik: m for m in Member.objects.filter(family=register)}
    moved = {m["nik"] for m in doc["members"]} - {head["nik"], other["nik"]}
    assert set(kept) == register_niks | moved
    assert not Member.objects.filter(nik__in=[head["nik"], other["nik"]]).exists()
    # The usulan had no DTSEN id: it takes the centre's, and the place in the batch's round.
    assert register.central_id == doc["central_id"]
    assert RoundFamily.objects.filter(family=register, round__batch_ref=BATCH).exists()
    # Every change is in the history, by the Dinsos user, with the item named.
    deleted = Family.history.filter(id=batch_family_id, history_type="-").get()
    assert deleted.history_user.username == "dinsos-adj"
    assert deleted.history_change_reason.startswith(f"adjudikasi {item.pk}")
    assert Member.history.filter(nik=head["nik"], history_type="-").get().history_user.username == "dinsos-adj"
    assert Member.history.filter(nik__in=moved, history_type="~", family_id=register.pk).count() == len(moved)
    assert Family.history.filter(id=register.pk).latest("history_date").central_id == doc["central_id"]


def test_a_merge_whose_members_clash_is_refused_with_the_clash_shown_and_nothing_changes(families):
    doc, register = alike_register_family(families, clash_member=True)
    applied(families)
    item = the_item(doc)
    before = (sorted(Member.objects.values_list("pk", "family_id", "nik")), Family.objects.count(),
              RoundFamily.objects.count(), Member.history.count(), Family.history.count())
    third = Member.objects.get(family=register, relationship=Member.Relationship.OTHER)
    with pytest.raises(InvalidState) as refused:
        clash_resolve(actor=dinsos(), clash_id=item.pk, resolution="merge", note=NOTE)
    assert "tidak dapat digabung" in str(refused.value) and third.name in str(refused.value)
    after = (sorted(Member.objects.values_list("pk", "family_id", "nik")), Family.objects.count(),
             RoundFamily.objects.count(), Member.history.count(), Family.history.count())
    assert after == before
    assert BatchClash.objects.get(pk=item.pk).state == BatchClash.State.HELD


def test_marking_a_duplicate_takes_the_batch_family_out_of_the_round_but_not_out_of_the_register(families):
    doc, register = alike_register_family(families)
    applied(families)
    item = the_item(doc)
    clash_resolve(actor=dinsos(), clash_id=item.pk, resolution="duplicate", note=NOTE)
    assert Family.objects.filter(pk=item.batch_family_id).exists()
    assert not RoundFamily.objects.filter(family_id=item.batch_family_id).exists()
    removed = RoundFamily.history.filter(family_id=item.batch_family_id, history_type="-").get()
    assert removed.history_user.username == "dinsos-adj"
    assert BatchClash.objects.get(pk=item.pk).resolution == "duplicate"


def test_a_likely_duplicate_offers_only_its_own_decisions_to_dinsos_of_its_regency(families):
    doc, _register = alike_register_family(families)
    applied(families)
    item = the_item(doc)
    with pytest.raises(InvalidState):
        clash_resolve(actor=dinsos(), clash_id=item.pk, resolution="take_centre", note=NOTE)
    with pytest.raises(NotAllowed):
        clash_resolve(actor=UserFactory(role=Role.VILLAGE_OPERATOR, area_id=doc["village_code"]), clash_id=item.pk,
                      resolution="keep_both", note=NOTE)
    with pytest.raises(NotInScope):
        clash_resolve(actor=dinsos("12.09", "dinsos-lain"), clash_id=item.pk, resolution="keep_both", note=NOTE)
    assert BatchClash.objects.get(pk=item.pk).state == BatchClash.State.HELD


@pytest.mark.django_db(transaction=True)
def test_two_dinsos_users_deciding_one_item_at_once_one_wins_and_the_other_is_told(regions):
    families = families_for("12.72", 50, seed=31)
    doc, register = alike_register_family(families)
    applied(families)
    item = the_item(doc)
    first, second = dinsos(username="dinsos-a"), dinsos(username="dinsos-b")
    gate = threading.Barrier(2)
    outcomes = {}

    def decide(user, resolution):
        try:
            gate.wait(timeout=10)
            clash_resolve(actor=user, clash_id=item.pk, resolution=resolution, note=NOTE)
            outcomes[user.username] = "won"
        except InvalidState as exc:
            outcomes[user.username] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(first, "merge")),
               threading.Thread(target=decide, args=(second, "keep_both"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    loser = next(name for name in outcomes if name != winner)
    assert "sudah diselesaikan" in outcomes[loser] and winner in outcomes[loser]
    item.refresh_from_db()
    assert item.resolved_by.username == winner
    assert item.resolution == ("merge" if winner == "dinsos-a" else "keep_both")
    assert Family.objects.filter(pk=register.pk).exists()


def _results_sent(batch_family_central_id):
    from central.submissions import submission_create

    rounds = VerificationRound.objects.filter(batch_ref=BATCH).values_list("pk", flat=True)
    payloads = [item.payload for round_id in rounds
                for item in submission_create(round_id=round_id, approval_id=None).items.all()
                if item.kind == "result"]
    return [p for p in payloads if p.get("central_id") == batch_family_central_id]


def test_the_centre_learns_of_a_marked_duplicate_once_and_of_a_merged_usulan_by_its_own_result(families):
    doc, register = alike_register_family(families)
    other_doc, other_register = alike_register_family(families, nth=1)
    applied(families)
    clash_resolve(actor=dinsos(), clash_id=the_item(doc).pk, resolution="duplicate", note=NOTE)
    clash_resolve(actor=dinsos(), clash_id=the_item(other_doc).pk, resolution="merge", note=NOTE)

    [duplicate] = _results_sent(doc["central_id"])
    assert (duplicate["decision"], duplicate["reason"]) == ("not_eligible", "duplicate")
    assert register.kk_number in duplicate["note"] and NOTE in duplicate["note"]
    # The usulan took the centre's id when merged: its own verval result goes up under it, once.
    [merged] = _results_sent(other_doc["central_id"])
    assert merged["ref"].startswith("R") and merged["reason"] != "duplicate"
    assert Family.objects.get(pk=other_register.pk).central_id == other_doc["central_id"]
