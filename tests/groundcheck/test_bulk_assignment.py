"""Dinsos gives one facilitator many families at once (a whole village, one dusun, or ticked families): exactly
the expected assignments are made, in a few set-based queries, families already waiting are skipped and
counted, each assignment records who made it, and a forged id, another regency's facilitator or an empty
selection is refused with a clear message and nothing created."""
import pytest
from django.urls import reverse

from accounts.models import Role
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from groundcheck import services
from groundcheck.models import Assignment
from verification.models import RoundFamily, RoundState

from ..factories import (
    KECAMATAN,
    KECAMATAN_OTHER_REGENCY,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_KECAMATAN,
    VILLAGE_OTHER_REGENCY,
    FamilyFactory,
    MemberFactory,
    RoundFactory,
    UserFactory,
    client_for,
    village,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id=REGENCY)


@pytest.fixture
def facilitator():
    return UserFactory(username="tksk-meranti", first_name="Rina", role=Role.FACILITATOR, area_id=KECAMATAN)


def family(code=VILLAGE, dusun="Dusun I"):
    made = FamilyFactory(village=village(code), dusun=dusun)
    MemberFactory(family=made)
    return made


@pytest.fixture
def meranti():
    """Three families in Dusun I, two in Dusun II of Desa Meranti."""
    return {"I": [family() for _ in range(3)], "II": [family(dusun="Dusun II") for _ in range(2)]}


def assigned(facilitator) -> set[int]:
    return set(Assignment.objects.filter(facilitator=facilitator).values_list("family_id", flat=True))


def bulk(dinsos, facilitator, **kwargs):
    return services.assignments_create_bulk(actor=dinsos, facilitator_id=facilitator.pk, village_code=VILLAGE,
                                            **kwargs)


def test_a_whole_village_is_assigned_and_families_already_waiting_are_skipped(dinsos, facilitator, meranti):
    other = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    services.assignment_create(actor=dinsos, family_id=meranti["I"][0].pk, facilitator_id=other.pk)
    elsewhere = family(VILLAGE_OTHER_KECAMATAN)
    result = bulk(dinsos, facilitator, note=" rumah baru ")
    assert (result.assigned, result.skipped) == (4, 1)
    assert assigned(facilitator) == {f.pk for f in meranti["I"][1:] + meranti["II"]}
    assert elsewhere.pk not in assigned(facilitator)
    rows = Assignment.objects.filter(facilitator=facilitator)
    assert {(a.assigned_by_id, a.source, a.note) for a in rows} == {(dinsos.pk, "dinsos", "rumah baru")}


def test_running_it_again_assigns_nothing_more(dinsos, facilitator, meranti):
    bulk(dinsos, facilitator)
    again = bulk(dinsos, facilitator)
    assert (again.assigned, again.skipped) == (0, 5) and Assignment.objects.count() == 5


def test_one_dusun_only(dinsos, facilitator, meranti):
    result = bulk(dinsos, facilitator, dusun="Dusun II")
    assert (result.assigned, result.skipped) == (2, 0)
    assert assigned(facilitator) == {f.pk for f in meranti["II"]}


def test_a_selection_only_and_each_assignment_points_at_the_familys_open_round(dinsos, facilitator, meranti):
    chosen = [meranti["I"][0], meranti["II"][1]]
    old = RoundFactory(village=village(VILLAGE), state=RoundState.APPROVED)
    current = RoundFactory(village=village(VILLAGE), state=RoundState.IN_VERIFICATION)
    for round_ in (old, current):
        RoundFamily.objects.create(round=round_, family=chosen[0])
    result = bulk(dinsos, facilitator, family_ids=[f.pk for f in chosen])
    assert (result.assigned, result.skipped) == (2, 0)
    assert assigned(facilitator) == {f.pk for f in chosen}
    entries = dict(Assignment.objects.values_list("family_id", "entry__round_id"))
    assert entries == {chosen[0].pk: current.pk, chosen[1].pk: None}


def test_the_writes_are_set_based(dinsos, facilitator, django_assert_num_queries):
    for n in (2, 20):
        families = [family(dusun=f"D{n}") for _ in range(n)]
        # the village, the facilitator, the families with whether each waits, their open rounds, the insert
        # (and the transaction's savepoint pair)
        with django_assert_num_queries(7):
            result = bulk(dinsos, facilitator, dusun=f"D{n}")
        assert result.assigned == len(families)


@pytest.mark.parametrize("kwargs,error", [
    ({"village_code": VILLAGE_OTHER_REGENCY}, NotInScope),  # another regency's village
    ({"village_code": KECAMATAN}, NotInScope),  # not a village
    ({"village_code": "12.09.08.9999"}, NotInScope),  # no such village
    ({"family_ids": []}, InvalidState),  # an empty selection
    ({"dusun": "Dusun Tidak Ada"}, InvalidState),  # nothing matches
])
def test_bad_choices_are_refused_and_nothing_is_created(dinsos, facilitator, meranti, kwargs, error):
    arguments = {"actor": dinsos, "facilitator_id": facilitator.pk, "village_code": VILLAGE, **kwargs}
    with pytest.raises(error):
        services.assignments_create_bulk(**arguments)
    assert not Assignment.objects.exists()


def test_a_forged_id_outside_the_village_refuses_the_whole_selection(dinsos, facilitator, meranti):
    away = family(VILLAGE_OTHER_REGENCY)
    with pytest.raises(NotInScope, match="tidak ada yang ditugaskan"):
        bulk(dinsos, facilitator, family_ids=[meranti["I"][0].pk, away.pk])
    with pytest.raises(NotInScope):
        bulk(dinsos, facilitator, family_ids=[meranti["I"][0].pk, 999_999_999])
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("area", [KECAMATAN_OTHER_REGENCY, VILLAGE_OTHER_KECAMATAN[:8]])
def test_a_facilitator_of_another_regency_or_kecamatan_is_refused(dinsos, meranti, area):
    stranger = UserFactory(role=Role.FACILITATOR, area_id=area)
    with pytest.raises(InvalidState):
        bulk(dinsos, stranger)
    assert not Assignment.objects.exists()


def test_only_dinsos_assigns(facilitator, meranti):
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    with pytest.raises(NotAllowed):
        bulk(operator, facilitator)
    assert client_for(operator).get(reverse("groundcheck-assignments-bulk")).status_code == 403
    assert not Assignment.objects.exists()


# The page: pick the village, the facilitator and the families, see the count, confirm.

URL = "groundcheck-assignments-bulk"


def test_the_page_confirms_the_count_before_creating(dinsos, facilitator, meranti):
    client = client_for(dinsos)
    services.assignment_create(actor=dinsos, family_id=meranti["II"][0].pk, facilitator_id=facilitator.pk)
    form = {"village": VILLAGE, "facilitator": facilitator.pk, "scope": "dusun", "dusun": "Dusun II"}
    preview = client.post(reverse(URL), form)
    assert preview.status_code == 200 and "bulk-assign-confirm" in preview.content.decode()
    assert (preview.context["preview"].assigned, preview.context["preview"].skipped) == (1, 1)
    assert Assignment.objects.count() == 1  # nothing created by the preview
    done = client.post(reverse(URL), {**form, "confirm": "1"}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("groundcheck-assignments")
    assert assigned(facilitator) == {f.pk for f in meranti["II"]}
    assert "1" in str(list(done.context["messages"])[0])


def test_the_page_assigns_the_ticked_families(dinsos, facilitator, meranti):
    chosen = [meranti["I"][1].pk, meranti["II"][0].pk]
    form = {"village": VILLAGE, "facilitator": facilitator.pk, "scope": "selected", "family": chosen}
    client = client_for(dinsos)
    assert client.post(reverse(URL), form).context["family_ids"] == chosen
    client.post(reverse(URL), {**form, "confirm": "1"})
    assert assigned(facilitator) == set(chosen)


@pytest.mark.parametrize("change,field", [
    ({"scope": "selected"}, "scope"),  # nothing ticked
    ({"scope": "selected", "family": ["1x"]}, "scope"),  # not an id
    ({"scope": "dusun"}, "dusun"),  # no dusun chosen
    ({"facilitator": "stranger"}, "facilitator"),  # another regency's facilitator: not in the list
])
def test_the_page_says_what_is_wrong_beside_the_field_and_creates_nothing(dinsos, facilitator, meranti, change,
                                                                          field):
    stranger = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN_OTHER_REGENCY)
    form = {"village": VILLAGE, "facilitator": facilitator.pk, "scope": "village", "confirm": "1", **change}
    if form["facilitator"] == "stranger":
        form["facilitator"] = stranger.pk
    response = client_for(dinsos).post(reverse(URL), form)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert 'data-testid="error-summary"' in response.content.decode()
    assert not Assignment.objects.exists()


def test_the_page_refuses_a_forged_id_with_a_message_and_creates_nothing(dinsos, facilitator, meranti):
    away = family(VILLAGE_OTHER_REGENCY)
    form = {"village": VILLAGE, "facilitator": facilitator.pk, "scope": "selected", "confirm": "1",
            "family": [meranti["I"][0].pk, away.pk]}
    response = client_for(dinsos).post(reverse(URL), form)
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert away.kk_number not in response.content.decode()
    assert not Assignment.objects.exists()


def test_a_village_outside_the_area_is_not_offered_nor_accepted(dinsos, facilitator):
    client = client_for(dinsos)
    picker = client.get(reverse(URL)).content.decode()
    assert f'value="{VILLAGE}"' in picker and VILLAGE_OTHER_REGENCY not in picker
    response = client.post(reverse(URL), {"village": VILLAGE_OTHER_REGENCY, "facilitator": facilitator.pk,
                                          "scope": "village", "confirm": "1"}, follow=True)
    assert response.context["village"] is None and not Assignment.objects.exists()


def test_the_family_list_pages_and_reads_a_fixed_number_of_queries(dinsos, facilitator, meranti,
                                                                   django_assert_num_queries, monkeypatch):
    from groundcheck import views

    monkeypatch.setattr(views, "BULK_FAMILIES_PER_PAGE", 2)
    client = client_for(dinsos)
    client.get(reverse(URL), {"village": VILLAGE})
    services.assignment_create(actor=dinsos, family_id=meranti["I"][0].pk, facilitator_id=facilitator.pk)
    # session, user, area (header), the village, its dusun, how many families, the page (head, waiting);
    # the facilitators when the select renders
    with django_assert_num_queries(8):
        first = client.get(reverse(URL), {"village": VILLAGE})
    second = client.get(reverse(URL), {"village": VILLAGE, "page": 2})
    assert f"village={VILLAGE}&amp;page=2" in first.content.decode()
    shown = [f.pk for r in (first, second) for f in r.context["page"].object_list]
    assert shown == [f.pk for f in meranti["I"][:2]] + [meranti["I"][2].pk, meranti["II"][0].pk]
    only_two = client.get(reverse(URL), {"village": VILLAGE, "dusun": "Dusun II"}).context["page"]
    assert {f.pk for f in only_two.object_list} == {f.pk for f in meranti["II"]}
