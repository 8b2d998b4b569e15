"""The portal's own estimate beside the official desil: the open PMT formula over the family's current data,
placed in a desil by the latest publication's score ranges, and always labelled as not BPS's figure."""
import ast
import datetime as dt
import pathlib
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from registry import selectors
from registry.models import DesilThreshold, Member
from registry.pmt import pmt_score
from registry.selectors import family_score_estimate
from verification import services
from verification.models import RoundFamily

from .central.desil_helpers import PageServer, publish_and_apply, row
from .factories import (
    VILLAGE,
    DesilRankingFactory,
    FamilyFactory,
    MemberFactory,
    RoundFactory,
    UserFactory,
    client_for,
    village,
)

pytestmark = pytest.mark.django_db

LABEL = "Perkiraan portal (rumus PMT terbuka), bukan angka resmi BPS"
POOR_HOUSE = {"floor_type": "earth", "wall_type": "bamboo", "roof_type": "thatch", "water_source": "surface",
              "lighting": "none", "cooking_fuel": "firewood", "toilet": "none", "house_ownership": "rent_free",
              "floor_area_m2": 20}


def poor_family(central_id="DT-POOR", members=4):
    family = FamilyFactory(village=village(VILLAGE), central_id=central_id, **POOR_HOUSE)
    for index in range(members):
        MemberFactory(family=family, relationship="head" if index == 0 else "child",
                      birth_date=dt.date(1980 + index, 3, 1))
    return family


def score_of(family):
    family.refresh_from_db()
    attrs = {field.name: getattr(family, field.name) for field in family._meta.fields}
    return pmt_score(attrs, family.members.filter(life_status=Member.LifeStatus.PRESENT).count())


@pytest.fixture
def published():
    """A publication whose score ranges run from 0 to 30 in ten desils of 3 points each."""
    family = poor_family()
    rows = [row(family, 1, score_of(family))] + [
        row(f"DT-OTHER-{d}-{i}", d, 3.0 * (d - 1) + i, village_code=VILLAGE) for d in range(1, 11) for i in (0.5, 2.5)]
    publish_and_apply(PageServer(), "2026-11-20", rows)
    family.refresh_from_db()
    return family


def test_the_family_page_shows_the_estimate_beside_the_official_desil_with_its_label(published):
    estimate = family_score_estimate(published)
    assert estimate.available and estimate.official.desil == 1 and estimate.official.period == dt.date(2026, 11, 20)
    assert estimate.score == score_of(published) and estimate.desil == 1 and estimate.desil_difference == 0
    page = client_for(UserFactory(area_id=VILLAGE)).get(reverse("family-detail", args=[published.pk])).content.decode()
    assert LABEL in page and 'data-testid="estimate-desil"' in page and "publikasi 20-11-2026" in page


def test_a_corrected_house_gives_a_higher_estimated_score_on_the_verval_page(published):
    before = family_score_estimate(published)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = RoundFactory(village=village(VILLAGE))
    entry = RoundFamily.objects.create(round=round_, family=published)
    services.family_correct(actor=operator, round_id=round_.pk, entry_id=entry.pk, expected_version=1, changes={
        "floor_type": "ceramic", "wall_type": "brick", "roof_type": "concrete", "lighting": "pln_metered",
        "cooking_fuel": "lpg_3kg", "toilet": "own", "water_source": "piped", "floor_area_m2": 90})
    published.refresh_from_db()
    after = family_score_estimate(published)
    assert after.score > before.score and after.desil > before.desil
    assert after.official.desil == 1 and after.desil_difference == after.desil - 1  # the official one stands
    page = client_for(operator).get(reverse("round-entry", args=[round_.pk, entry.pk])).content.decode()
    assert LABEL in page and f'<span class="badge">{after.desil}</span>' in page


def test_only_living_members_count_in_the_estimate(published):
    member = published.members.exclude(relationship="head").first()
    member.life_status = Member.LifeStatus.DECEASED
    member.save()
    published = type(published).objects.prefetch_related("members", "desil_rankings").get(pk=published.pk)
    estimate = family_score_estimate(published)
    assert estimate.living_members == 3 and estimate.score == score_of(published)


def test_without_a_publication_with_score_ranges_the_page_says_there_is_no_estimate():
    family = poor_family()
    DesilRankingFactory(family=family, desil=2, score=Decimal("7.5"))  # demo history: no thresholds recorded
    estimate = family_score_estimate(family)
    assert not estimate.available and estimate.desil is None and estimate.desil_difference is None
    page = client_for(UserFactory(area_id=VILLAGE)).get(reverse("family-detail", args=[family.pk])).content.decode()
    assert LABEL in page and "Tidak ada perkiraan desil" in page and 'data-testid="estimate-desil"' not in page


@pytest.mark.parametrize("score,desil", [(-2.0, 1), (4.0, 2), (4.5, 2), (7.9, 3), (100.0, 10)])
def test_a_score_is_placed_by_the_publications_ranges_gaps_going_to_the_upper_desil(score, desil):
    for d in range(1, 11):
        DesilThreshold.objects.create(period=dt.date(2026, 11, 20), desil=d, min_score=Decimal(3 * (d - 1) + 0.5),
                                      max_score=Decimal(3 * (d - 1) + 2.5), families=2)
    family = FamilyFactory(central_id="DT-P")
    DesilRankingFactory(family=family, period=dt.date(2026, 11, 20), desil=5)
    assert selectors._place_in_desil(score, list(DesilThreshold.objects.all())) == desil


def test_a_family_never_ranked_is_placed_by_the_latest_publication():
    DesilThreshold.objects.create(period=dt.date(2026, 10, 20), desil=1, min_score=0, max_score=50, families=1)
    DesilThreshold.objects.create(period=dt.date(2026, 11, 20), desil=7, min_score=0, max_score=50, families=1)
    estimate = family_score_estimate(poor_family(central_id=None))
    assert estimate.official is None and estimate.desil == 7 and estimate.period == dt.date(2026, 11, 20)
    assert estimate.desil_difference is None


def test_the_estimate_reads_only_the_register():
    # The register sits at the bottom: what the estimate is built from must not reach up into the workflow.
    paths = [pathlib.Path("registry", name) for name in ("models.py", "pmt.py", "selectors.py")]
    for path in paths + list(pathlib.Path("registry/templatetags").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("verification", "central", "monitoring") for n in names), path
