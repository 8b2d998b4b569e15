"""Numbers as Indonesians write them: counts grouped with a dot, scores with a decimal comma, GPS coordinates
with a decimal point and the hemisphere; English formats when English is chosen."""
import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import translation

from dtsen_portal.formats import coordinates, number, score


@pytest.mark.parametrize("language,expected", [("id", "1.200"), ("en", "1,200")])
def test_counts_are_grouped_in_the_active_language(language, expected):
    with translation.override(language):
        assert number(1200) == expected
        assert number(7) == "7" and number(None) == "0"
        assert number(1_700_000) == expected.replace("200", "700") + ("." if language == "id" else ",") + "000"


def test_scores_keep_their_decimals_with_a_decimal_comma():
    with translation.override("id"):
        assert score(17.4) == "17,4" and score(17.456) == "17,46" and score(-0.5) == "-0,5" and score(20) == "20"
        assert score(None) == ""
    with translation.override("en"):
        assert score(17.4) == "17.4"


def test_coordinates_carry_their_hemisphere_and_cannot_read_as_four_numbers():
    with translation.override("id"):
        assert coordinates(2.9512, 99.5521) == "2.951200° LU, 99.552100° BT"
        assert coordinates(-6.2, 106.8166667) == "6.200000° LS, 106.816667° BT"
        assert coordinates(None, 99.5) == ""
    with translation.override("en"):
        assert coordinates(-6.2, 106.8) == "6.200000° S, 106.800000° E"


def test_the_template_filters_write_the_same():
    page = Template("{% load numbers %}{{ n|number }} keluarga · {{ s|score }} · {% coordinates lat lon %}")
    with translation.override("id"):
        text = page.render(Context({"n": 1200, "s": 17.4, "lat": 2.9512, "lon": 99.5521}))
    assert text == "1.200 keluarga · 17,4 · 2.951200° LU, 99.552100° BT"


@pytest.mark.django_db
def test_a_visit_shows_its_gps_with_the_hemisphere_on_the_family_page():
    from django.urls import reverse

    from accounts.models import Role
    from groundcheck.models import Assignment, Visit

    from .factories import VILLAGE, UserFactory, client_for, round_with_families

    round_ = round_with_families(1)
    entry = round_.entries.get()
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=VILLAGE[:8])
    assignment = Assignment.objects.create(family=entry.family, facilitator=facilitator)
    Visit.objects.create(assignment=assignment, family=entry.family, facilitator=facilitator,
                         visited_at=dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC), latitude="2.951200",
                         longitude="99.552100", recommendation="continue")
    page = client_for(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)).get(
        reverse("round-entry", args=[round_.pk, entry.pk])).content.decode()
    assert "GPS 2.951200° LU, 99.552100° BT" in page
