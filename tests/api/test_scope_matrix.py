"""The API scope matrix: every endpoint, every role — objects of another area do not exist for the caller.

The endpoint list comes from the URL configuration, so a new endpoint is checked the moment it is added;
one whose model has no way to place an object in a village (tests/factories.OBJECT_IN_VILLAGE) fails, and
so does one that neither reads through the area scope nor serves national reference data read-only.
"""
import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.scope import user_covers_code
from dtsen_portal.api import ScopedQuerysetMixin
from tests.factories import (
    KECAMATAN,
    OBJECT_IN_VILLAGE,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_REGENCY,
    UserFactory,
    object_for_endpoint,
)

ROLE_AREAS = {
    Role.VILLAGE_OPERATOR: VILLAGE,
    Role.VILLAGE_HEAD: VILLAGE,
    Role.FACILITATOR: KECAMATAN,
    Role.DINSOS: REGENCY,
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def api_endpoints():
    """(route, viewset class, basename, is_detail, {method: action}) for every DRF route under /api/v1/."""
    found = {}

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                cls = getattr(pattern.callback, "cls", None)
                groups = pattern.pattern.regex.groupindex
                if cls is None or not hasattr(cls, "get_queryset") or "format" in groups:
                    continue
                found[route] = (cls, pattern.callback.initkwargs.get("basename"), "pk" in groups,
                                dict(pattern.callback.actions))

    walk(get_resolver().url_patterns, "")
    return sorted(((route, *value) for route, value in found.items()), key=lambda e: e[0])


ENDPOINTS = api_endpoints()
SCOPED = [e for e in ENDPOINTS if issubclass(e[1], ScopedQuerysetMixin)]
REFERENCE = [e for e in ENDPOINTS if not issubclass(e[1], ScopedQuerysetMixin)]


def test_the_api_has_endpoints_to_check():
    assert len(ENDPOINTS) >= 20


@pytest.mark.parametrize(("route", "cls", "basename", "detail", "actions"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_every_endpoint_reads_through_the_area_scope_or_serves_reference_data(route, cls, basename, detail,
                                                                              actions):
    model = cls.queryset.model
    if issubclass(cls, ScopedQuerysetMixin):
        assert model in OBJECT_IN_VILLAGE, f"add {model.__name__} to tests/factories.OBJECT_IN_VILLAGE"
    else:
        # Only national reference data may skip the scope, and then nobody writes it through the API.
        assert getattr(model, "unscoped_reference_data", False), f"{cls.__name__} does not use the area scope"
        assert not WRITE_METHODS & set(actions), f"{route} writes reference data"


def region_of(obj) -> str:
    """The region code an object belongs to, following its model's area_scope_path."""
    value = obj
    for part in type(obj).area_scope_path.split("__"):
        value = getattr(value, part)
    return value


def _detail_url(basename, obj) -> str:
    return reverse(f"api:{basename}-detail", kwargs={"pk": obj.pk})


DETAIL_VIEWSETS = sorted({(cls, basename) for _route, cls, basename, detail, actions in SCOPED
                          if detail and actions.get("get") == "retrieve"}, key=lambda e: e[1])
IDS = [basename for _cls, basename in DETAIL_VIEWSETS]
# Every write action on one object (decide, submit, resolve...), from the URL configuration.
DETAIL_WRITES = [(route, cls, basename, actions["post"]) for route, cls, basename, detail, actions in SCOPED
                 if detail and actions.get("post")]


def _client(role):
    client = APIClient()
    user = UserFactory(role=role, area_id=ROLE_AREAS[role])
    client.force_authenticate(user)
    return client, user


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLE_AREAS))
@pytest.mark.parametrize(("cls", "basename"), DETAIL_VIEWSETS, ids=IDS)
def test_object_of_another_area_answers_404_and_refuses_writes(cls, basename, role):
    model = cls.queryset.model
    outside = object_for_endpoint(basename, model, VILLAGE_OTHER_REGENCY)
    inside = object_for_endpoint(basename, model, VILLAGE)
    client, user = _client(role)

    outside_url = _detail_url(basename, outside)
    assert client.get(outside_url).status_code == 404
    for method in ("put", "patch", "delete"):
        status = getattr(client, method)(outside_url, {}, format="json").status_code
        assert status in (404, 405), f"{method.upper()} {outside_url} answered {status}"
    # Objects above the user's level (a regency's sync batch for a village operator) stay out of reach too.
    expected = 200 if user_covers_code(user, region_of(inside)) else 404
    assert client.get(_detail_url(basename, inside)).status_code == expected


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLE_AREAS))
@pytest.mark.parametrize(("route", "cls", "basename", "action"), DETAIL_WRITES,
                         ids=[f"{b}-{a}" for _r, _c, b, a in DETAIL_WRITES])
def test_actions_on_an_object_of_another_area_answer_404_before_anything_changes(route, cls, basename, action,
                                                                                role):
    # Even the role allowed to act learns nothing about another area's objects: 404, not 403 or 409.
    model = cls.queryset.model
    outside = object_for_endpoint(basename, model, VILLAGE_OTHER_REGENCY)
    before = model.objects.filter(pk=outside.pk).values().get()
    client, _user = _client(role)
    url = reverse(f"api:{basename}-{action.replace('_', '-')}", kwargs={"pk": outside.pk})
    response = client.post(url, {"note": "x", "decision": "eligible", "version": 1, "accept": True}, format="json")
    assert response.status_code == 404, response.content
    assert model.objects.filter(pk=outside.pk).values().get() == before


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLE_AREAS))
@pytest.mark.parametrize(("cls", "basename"), DETAIL_VIEWSETS, ids=IDS)
def test_list_never_contains_objects_of_another_area(cls, basename, role):
    model = cls.queryset.model
    outside = object_for_endpoint(basename, model, VILLAGE_OTHER_REGENCY)
    inside = object_for_endpoint(basename, model, VILLAGE)
    client, user = _client(role)
    pk_name = model._meta.pk.name
    ids, url, params = set(), reverse(f"api:{basename}-list"), {"page_size": 500}
    while url:  # walk every page: the outside object must be on none of them
        body = client.get(url, params).json()
        ids |= {str(item.get(pk_name)) for item in body["results"]}
        url, params = body.get("next"), None
    if user_covers_code(user, region_of(inside)):
        assert str(inside.pk) in ids, "the list should hold the caller's own area"
    assert str(outside.pk) not in ids


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLE_AREAS))
@pytest.mark.parametrize(("route", "cls", "basename", "detail", "actions"), REFERENCE, ids=[e[0] for e in REFERENCE])
def test_reference_data_is_readable_by_every_role_and_not_writable(route, cls, basename, detail, actions, role):
    client, _user = _client(role)
    if detail:
        url = reverse(f"api:{basename}-detail", kwargs={"pk": cls.queryset.model.objects.first().pk})
        assert client.get(url).status_code == 200
        assert client.put(url, {}, format="json").status_code == 405
    else:
        url = reverse(f"api:{basename}-list")
        assert client.get(url).status_code == 200
        assert client.post(url, {}, format="json").status_code == 405


LIST_VIEWSETS = sorted({(cls, basename) for _route, cls, basename, detail, actions in SCOPED
                        if not detail and actions.get("get") == "list"}, key=lambda e: e[1])


@pytest.mark.django_db
@pytest.mark.parametrize(("cls", "basename"), LIST_VIEWSETS, ids=[b for _c, b in LIST_VIEWSETS])
def test_list_queries_do_not_grow_with_rows_and_deeper_pages_use_no_offset(cls, basename,
                                                                           django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.DINSOS, area_id=REGENCY))
    url = reverse(f"api:{basename}-list")
    make = lambda: object_for_endpoint(basename, cls.queryset.model, VILLAGE)  # noqa: E731
    make()
    with CaptureQueriesContext(connection) as one:
        client.get(url, {"page_size": 2})
    for _ in range(5):
        make()
    with django_assert_max_num_queries(len(one.captured_queries)):
        body = client.get(url, {"page_size": 2}).json()
    assert body["next"], "five rows at two per page have a next page"
    with CaptureQueriesContext(connection) as deeper:
        client.get(body["next"])
    assert not any(" OFFSET " in q["sql"].upper() for q in deeper.captured_queries)
