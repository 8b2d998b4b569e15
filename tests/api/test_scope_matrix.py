"""The API scope matrix: every endpoint, every role — objects of another area do not exist for the caller.

The endpoint list comes from the URL configuration, so a new endpoint is checked the moment it is added;
one whose model has no way to place an object in a village (tests/factories.OBJECT_IN_VILLAGE) fails.
"""
import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import Role
from dtsen_portal.api import ScopedQuerysetMixin
from tests.factories import (
    KECAMATAN,
    OBJECT_IN_VILLAGE,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_REGENCY,
    UserFactory,
)

ROLE_AREAS = {
    Role.VILLAGE_OPERATOR: VILLAGE,
    Role.VILLAGE_HEAD: VILLAGE,
    Role.FACILITATOR: KECAMATAN,
    Role.DINSOS: REGENCY,
}


def api_endpoints():
    """(route, viewset class, basename, is_detail) for every DRF route under /api/v1/."""
    found = {}

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                cls = getattr(pattern.callback, "cls", None)
                if cls is None or not hasattr(cls, "get_queryset") or "format" in pattern.pattern.regex.groupindex:
                    continue
                groups = pattern.pattern.regex.groupindex
                found[route] = (cls, pattern.callback.initkwargs.get("basename"),
                                getattr(cls, "lookup_url_kwarg", None) in groups or "pk" in groups)

    walk(get_resolver().url_patterns, "")
    return sorted(((route, *value) for route, value in found.items()), key=lambda e: e[0])


ENDPOINTS = api_endpoints()


def test_the_api_has_endpoints_to_check():
    assert len(ENDPOINTS) >= 4


@pytest.mark.parametrize(("route", "cls", "basename", "detail"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_every_endpoint_reads_through_the_area_scope(route, cls, basename, detail):
    assert issubclass(cls, ScopedQuerysetMixin), f"{cls.__name__} does not use the area scope"
    assert cls.queryset.model in OBJECT_IN_VILLAGE, f"add {cls.queryset.model.__name__} to OBJECT_IN_VILLAGE"


def _detail_url(basename, obj) -> str:
    return reverse(f"api:{basename}-detail", kwargs={"pk": obj.pk})


DETAIL_VIEWSETS = sorted({(cls, basename) for _route, cls, basename, detail in ENDPOINTS if detail},
                         key=lambda e: e[1])
IDS = [basename for _cls, basename in DETAIL_VIEWSETS]


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLE_AREAS))
@pytest.mark.parametrize(("cls", "basename"), DETAIL_VIEWSETS, ids=IDS)
def test_object_of_another_area_answers_404_and_refuses_writes(cls, basename, role):
    model = cls.queryset.model
    outside = OBJECT_IN_VILLAGE[model](VILLAGE_OTHER_REGENCY)
    inside = OBJECT_IN_VILLAGE[model](VILLAGE)
    client = APIClient()
    client.force_authenticate(UserFactory(role=role, area_id=ROLE_AREAS[role]))

    outside_url = _detail_url(basename, outside)
    assert client.get(outside_url).status_code == 404
    for method in ("put", "patch", "delete"):
        status = getattr(client, method)(outside_url, {}, format="json").status_code
        assert status in (404, 405), f"{method.upper()} {outside_url} answered {status}"
    assert client.get(_detail_url(basename, inside)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLE_AREAS))
@pytest.mark.parametrize(("cls", "basename"), DETAIL_VIEWSETS, ids=IDS)
def test_list_never_contains_objects_of_another_area(cls, basename, role):
    model = cls.queryset.model
    outside = OBJECT_IN_VILLAGE[model](VILLAGE_OTHER_REGENCY)
    OBJECT_IN_VILLAGE[model](VILLAGE)
    client = APIClient()
    client.force_authenticate(UserFactory(role=role, area_id=ROLE_AREAS[role]))
    pk_name = model._meta.pk.name
    ids, url, params = set(), reverse(f"api:{basename}-list"), {"page_size": 500}
    while url:  # walk every page: the outside object must be on none of them
        body = client.get(url, params).json()
        ids |= {str(item.get(pk_name)) for item in body["results"]}
        url, params = body.get("next"), None
    assert ids, "the list should at least hold the caller's own area"
    assert str(outside.pk) not in ids
