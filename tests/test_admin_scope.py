"""The admin scope matrix: every admin URL, every role — another area's register data does not exist there.

Like tests/api/test_scope_matrix.py, the URL list comes from the admin site itself (``admin.site._registry``
and each ModelAdmin's ``get_urls()``), so a new admin, or a new view of a package's admin (simple-history's
history pages, import-export's export), is walked the moment it is added. Staff users here hold every model
permission, so only the area scope and the admin policy (accounts.admin_scope) stand between them and
another regency's families.
"""
import datetime as dt
import re
import uuid
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.forms.models import model_to_dict
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse
from django.urls.resolvers import RegexPattern
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from rest_framework.authtoken.models import Token

from accounts.admin_scope import ReferenceAdminMixin, ScopedAdminMixin, SuperuserOnlyAdminMixin
from accounts.models import Role, User
from accounts.scope import scope_queryset
from jobs.models import Job
from registry.models import DesilChange, DuplicatePair, Family, Member, Region
from tests.factories import (
    KECAMATAN,
    OBJECT_IN_VILLAGE,
    OTHER_REGENCY,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_REGENCY,
    FamilyFactory,
    UserFactory,
    submitted_round,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quiet_refusals():
    # Hundreds of deliberate 403s and 404s: their log lines would drown a real failure's output.
    import logging

    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture(autouse=True)
def _quick_passwords(settings):
    # The world below holds a dozen users; the production hasher would spend seconds on their passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)

# role name -> (User fields, the village the user's own area holds, for "move it into my area" attacks)
ROLES = {
    "superuser": ({"role": Role.ADMIN, "area_id": None, "is_superuser": True}, VILLAGE),
    "dinsos_a": ({"role": Role.DINSOS, "area_id": REGENCY}, VILLAGE),
    "dinsos_b": ({"role": Role.DINSOS, "area_id": OTHER_REGENCY}, VILLAGE_OTHER_REGENCY),
    "operator": ({"role": Role.VILLAGE_OPERATOR, "area_id": VILLAGE}, VILLAGE),
    "facilitator": ({"role": Role.FACILITATOR, "area_id": KECAMATAN}, VILLAGE),
    "anonymous": (None, VILLAGE),
}


def _hidden_from_regency_staff(model_admin) -> bool:
    """An admin written its own way (django-otp's authenticators, say) that no regency staff member reaches."""
    staff = UserFactory(role=Role.DINSOS, area_id=REGENCY, is_staff=True)
    staff.user_permissions.add(*Permission.objects.all())
    request = RequestFactory().get(reverse("admin:index"))
    request.user = User.objects.get(pk=staff.pk)
    return not (model_admin.has_module_permission(request) or model_admin.has_view_or_change_permission(request))


def test_every_admin_takes_one_access_policy():
    # A new admin must say whether it shows register data (scoped), national reference data (read-only for
    # regency staff) or portal-wide power (superusers only).
    policies = (ScopedAdminMixin, ReferenceAdminMixin, SuperuserOnlyAdminMixin)
    missing = [model._meta.label for model, model_admin in REGISTRY
               if not isinstance(model_admin, policies) and not _hidden_from_regency_staff(model_admin)]
    assert missing == []
    for model, model_admin in REGISTRY:
        if getattr(model, "area_scope_path", None):
            assert isinstance(model_admin, ScopedAdminMixin), f"{model._meta.label} holds area data"


def _world_in(code: str) -> None:
    """One object of every register model the admin shows, in village ``code``."""
    from central.models import BatchClash, BatchHeldRow, CentralBatch, UnmatchedRanking
    from groundcheck.models import Assignment, Visit, VisitPhoto
    from verification.models import FieldCorrection, VillageLetterhead

    round_, entries = submitted_round(code=code, n=1)
    entry = entries[0]
    family = entry.family
    family.address = "Jl. Lama"
    family.save()  # a second history row, so there is a past version to "revert" to
    made = {model: make(code) for model, make in OBJECT_IN_VILLAGE.items() if model is not Region}
    visit = made[Visit]
    VisitPhoto.objects.create(visit=visit, image=f"visits/{uuid.uuid4().hex}.jpg", width=4, height=3)
    Assignment.objects.filter(family=visit.family).update(entry=entry)
    DesilChange.objects.create(family=family, village_id=code, period=dt.date(2026, 10, 20), new_desil=3,
                               movement="entered")
    FieldCorrection.objects.create(entry=entry, member=family.members.first(), member_label="Kepala",
                                   field="address", field_label="Alamat", old_value="Jl. Lama",
                                   new_value="Jl. Baru", corrected_by=round_.musdesus.recorded_by)
    BatchClash.objects.create(batch=made[CentralBatch], central_id=f"C-{uuid.uuid4().hex[:8]}", village_id=code,
                              kind="kk", reason="KK sama", central_version={}, register_family=family)
    VillageLetterhead.objects.create(village_id=code, address=f"Kantor Desa {code}", phone="0623 41234")
    UnmatchedRanking.objects.create(period=dt.date(2026, 10, 20), central_id=f"U-{uuid.uuid4().hex[:8]}",
                                    village_code=code, desil=2)
    BatchHeldRow.objects.create(batch=made[CentralBatch], page=1, position=1, central_id=f"H-{uuid.uuid4().hex[:8]}",
                                area_code=code, reasons="NIK tidak sah", document={})
    UserFactory(role=Role.VILLAGE_OPERATOR, area_id=code, first_name="Petugas", last_name=f"Rahasia{code}")
    # A pair a duplicate scan found, with its scan's job (scoped by its first family).
    scan = Job.objects.create(user=User.objects.filter(area_id=code).first(), kind=Job.Kind.DUPLICATE_SCAN,
                              target=f"region:{code[:5]}", params={"region": code[:5]})
    twin = FamilyFactory(village=Region.objects.get(code=code))
    DuplicatePair.objects.create(job=scan, family_a=family, family_b=twin, likelihood=0.8, reasons=["name_same"])
    if apps.is_installed("distribution"):  # a payment report waiting for a second account in the regency
        apps.get_model("distribution", "PendingChange").objects.create(
            kind="payment-report", area_id=code[:5], prepared_by=User.objects.filter(area_id=code).first(),
            summary={"rows": 1}, payload={"rows": []})
    login_event = getattr(import_module("accounts.models"), "LoginEvent", None)
    if login_event is not None:  # the login audit, scoped by the account's area
        login_event.objects.create(user=User.objects.filter(area_id=code).first(), username=f"masuk{code}",
                                   kind="login")
    if apps.is_installed("privacy"):  # the record of who read whose NIK (UU PDP), scoped by its area
        apps.get_model("privacy", "PersonalDataAccess").objects.create(
            username=f"pembaca{code}", role=Role.DINSOS, kind="view_nik", object_type="family",
            object_id=str(family.pk), area_id=code)


def _portal_wide_things():
    superuser = UserFactory(username="root", role=Role.ADMIN, area_id=None, is_superuser=True, is_staff=True)
    token = Token.objects.create(user=superuser)
    Group.objects.create(name="Grup Rahasia Pusat")
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="Sapuan Rahasia", task="central.tasks.sweep", interval=every)
    CrontabSchedule.objects.create(minute="7")
    SolarSchedule.objects.create(event="sunrise", latitude=3.0, longitude=99.0)
    ClockedSchedule.objects.create(clocked_time=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    return superuser, [token.key, "Grup Rahasia Pusat", "Sapuan Rahasia"]


def _foreign(user, model):
    """Rows of a scoped model outside ``user``'s area: every row for anonymous, regency B's for superusers."""
    everything = model._default_manager.all()
    if user is None:
        return everything
    if user.is_superuser:
        user = User(role=Role.DINSOS, area_id=REGENCY)
    return everything.exclude(pk__in=scope_queryset(user, model._default_manager.all()).values("pk"))


def _snapshot(user):
    """What must not change: another area's rows, and every row the user may not write at all."""
    state = {}
    for model, model_admin in REGISTRY:
        if isinstance(model_admin, ScopedAdminMixin):
            rows = _foreign(user, model)
        elif user is not None and user.is_superuser:
            continue
        else:
            rows = model._default_manager.all()
        columns = [f.attname for f in model._meta.concrete_fields]
        state[model._meta.label] = {row[model._meta.pk.attname]: row for row in rows.values(*columns)}
    state["authtoken.Token"] = set(Token.objects.values_list("key", "user_id"))
    return state


def _secrets(user, portal_wide):
    """Strings that must appear in no answer to ``user``: another area's KK, NIK and names (with their
    past values from the audit history), and the portal-wide secrets for anyone but a superuser."""
    families = _foreign(user, Family)
    members = _foreign(user, Member)
    values = set(families.values_list("kk_number", flat=True))
    values |= set(Family.history.filter(id__in=families.values("pk")).values_list("kk_number", flat=True))
    for nik, name in members.values_list("nik", "name"):
        values |= {nik, name}
    for nik, name in Member.history.filter(id__in=members.values("pk")).values_list("nik", "name"):
        values |= {nik, name}
    values |= {last for last in _foreign(user, User).values_list("last_name", flat=True) if last}
    return values | set(portal_wide)


def _patterns(values):
    # "Warga 1" must not match "Warga 12", nor one 16-digit number the middle of a longer one.
    return [re.compile(rf"(?<![\w]){re.escape(v)}(?![\w])") for v in values]


def _args_of(pattern) -> int:
    if isinstance(pattern.pattern, RegexPattern):
        return pattern.pattern.regex.groups
    return len(pattern.pattern.converters)


def _attack_data(obj, own_village: str) -> dict:
    """The object's own values, with every region moved into the attacker's area ("make it mine"), or
    kept in the object's area when ``own_village`` is None ("add one there")."""
    data = {}
    for name, value in model_to_dict(obj).items():
        field = obj._meta.get_field(name)
        if value is None or isinstance(field, models.FileField):
            continue
        if isinstance(field, models.ForeignKey) and field.related_model is Region and own_village:
            value = own_village
        elif isinstance(value, list):
            value = [getattr(v, "pk", v) for v in value]
        elif isinstance(value, models.Model):
            value = value.pk
        data[name] = value
    data.update({"post": "yes", "password1": "Rahasia-baru-123!", "password2": "Rahasia-baru-123!",
                 "usable_password": "true", "format": "0"})
    return data


def _target(user, model, model_admin):
    """The object whose URLs are walked: one outside the user's area (any one for superusers)."""
    if isinstance(model_admin, ScopedAdminMixin):
        found = _foreign(user, model).order_by("pk").first()
        assert found is not None, f"tests/test_admin_scope._world_in makes no {model.__name__}"
        return found
    return model._default_manager.order_by("pk").first()


def _admin_urls(user, own_village, sent_secrets=frozenset()):
    """(kind, url, admin, target, number of URL arguments, POST data or None) for every URL of every admin."""
    for model, model_admin in REGISTRY:
        target = _target(user, model, model_admin)
        for pattern in model_admin.get_urls():
            if not pattern.name:
                continue  # "<id>/" only redirects to "<id>/change/"
            count = _args_of(pattern)
            pk = target.pk if target is not None else 999999
            if count == 0:
                args = []
            elif count == 1:
                args = [pk]
            else:
                # The object's own key, not the history row's (its pk is history_id).
                record = (model.history.filter(**{model._meta.pk.attname: pk}).order_by("history_id").first()
                          if target else None)
                args = [pk, record.history_id if record else 999999]
            try:
                url = reverse(f"admin:{pattern.name}", args=args)
            except NoReverseMatch:
                continue
            if target is None:
                data = {"post": "yes"}
            elif count == 0:
                # An add form answers with what was sent; the test must not send the secrets it looks for.
                data = {key: value for key, value in _attack_data(target, None).items()
                        if not (isinstance(value, str) and value in sent_secrets)}
                data.update({"action": "delete_selected", "index": "0", "_selected_action": [pk]})
            else:
                data = _attack_data(target, own_village)
            kind = pattern.name.removeprefix(f"{model._meta.app_label}_{model._meta.model_name}_")
            yield kind, url, model_admin, target, count, data
            if kind == "export":
                # import-export reads the list's filters from the address: "format" is not one of them.
                for bad in ("0", "abc", "99", "-1"):
                    yield kind, f"{url}?format={bad}", model_admin, target, 0, {"format": bad}
        for field in model_admin.autocomplete_fields:
            for term in ("", "1"):
                yield ("autocomplete", f"{reverse('admin:autocomplete')}?app_label={model._meta.app_label}"
                       f"&model_name={model._meta.model_name}&field_name={field}&term={term}",
                       model_admin, None, 0, None)
        if target is not None:
            from django.contrib.contenttypes.models import ContentType

            content_type = ContentType.objects.get_for_model(model)
            yield ("view_on_site", reverse("admin:view_on_site", args=[content_type.pk, target.pk]), model_admin,
                   target, 1, None)


# The views that act on a POST; the others answer it as a GET.
POSTED = {"changelist", "add", "change", "delete", "simple_history", "password", "export"}
# What a superuser must be able to open without a server error (their change pages are Django's own).
SUPERUSER_KINDS = {"changelist", "export", "history", "simple_history", "autocomplete"}


def _worth_walking(role, kind, model_admin) -> bool:
    """Keep the matrix fast: the policy of reference and superuser-only admins is the same for every
    regency staff member, so one Dinsos user (and anonymous) walks those; every role walks the scoped ones."""
    if role == "superuser":
        return kind in SUPERUSER_KINDS
    if role in ("dinsos_a", "anonymous"):
        return True
    return isinstance(model_admin, ScopedAdminMixin)


def _check(response, url, secrets):
    assert response.status_code < 500, f"{url} answered {response.status_code}"
    body = response.content.decode("utf-8", errors="replace")
    for secret in secrets:
        assert not secret.search(body), f"{url} shows {secret.pattern} ({response.status_code})"


def test_no_admin_url_shows_or_changes_another_areas_data():
    # One world for every role: building it is most of the cost, and no role may change it anyway.
    _world_in(VILLAGE)
    _world_in(VILLAGE_OTHER_REGENCY)
    root, portal_wide = _portal_wide_things()
    for role in ROLES:
        _walk_every_admin_url(role, root, portal_wide)


def _walk_every_admin_url(role, root, portal_wide):
    fields, own_village = ROLES[role]
    client = Client()
    user = None
    if fields is not None:
        user = root if fields.get("is_superuser") else UserFactory(is_staff=True, **fields)
        # Every permission: only the scope and the admin policy may stand in the way.
        user.user_permissions.add(*Permission.objects.all())
        client.force_login(user)
    superuser = bool(user and user.is_superuser)
    secret_values = set() if superuser else _secrets(user, portal_wide)
    secrets = _patterns(secret_values)
    before = _snapshot(user)

    for kind, url, model_admin, target, count, data in _admin_urls(user, own_village, secret_values):
        if not _worth_walking(role, kind, model_admin):
            continue
        response = client.get(url)
        _check(response, f"{role}: GET {url}", secrets)
        if user is None:
            assert response.status_code == 302 and "/login/" in response["Location"], url
            continue
        if not superuser:
            if isinstance(model_admin, SuperuserOnlyAdminMixin):
                assert response.status_code in (302, 403, 404), f"{role}: {url} answered {response.status_code}"
                assert response.status_code != 302 or response["Location"] == reverse("admin:index"), url
            elif isinstance(model_admin, ScopedAdminMixin) and count and target is not None:
                assert response.status_code in (403, 404), f"{role}: {url} answered {response.status_code}"
        is_revert = kind == "simple_history"
        if data is not None and kind in POSTED and (not superuser or is_revert):
            response = client.post(url, data)
            _check(response, f"{role}: POST {url}", secrets)
            if is_revert:
                assert response.status_code in (403, 404), f"{role}: revert {url} answered {response.status_code}"

    for url in (reverse("admin:index"), reverse("admin:app_list", args=["registry"])):
        response = client.get(url)
        _check(response, f"{role}: GET {url}", secrets)
        if user is not None and not superuser:
            for hidden in ("authtoken/tokenproxy", "django_celery_beat", "auth/group", "central/synccursor"):
                assert hidden not in response.content.decode(), f"{role}: {url} lists {hidden}"

    assert _snapshot(user) == before, f"{role} changed data outside their reach"

    # The walk above proves something only if the same URLs do show data where they should.
    family_b = Family.objects.filter(village_id=VILLAGE_OTHER_REGENCY).order_by("pk").first()
    family_a = Family.objects.filter(village_id=VILLAGE).order_by("pk").first()
    if superuser:
        shown = client.get(reverse("admin:registry_family_history", args=[family_b.pk]))
        assert shown.status_code == 200 and family_b.kk_number in shown.content.decode()
        assert client.get(reverse("admin:authtoken_tokenproxy_changelist")).status_code == 200
    elif role == "dinsos_a":
        shown = client.get(reverse("admin:registry_family_history", args=[family_a.pk]))
        assert shown.status_code == 200 and family_a.kk_number in shown.content.decode()
        record = family_a.history.order_by("history_id").first()
        past = client.get(reverse("admin:registry_family_simple_history", args=[family_a.pk, record.history_id]))
        assert past.status_code == 200 and family_a.kk_number in past.content.decode()
        exported = client.post(reverse("admin:registry_family_export"), {
            "format": "0", "resource": "0", "familyresource_id": "on", "familyresource_kk_number": "on"})
        assert exported.status_code == 200 and family_a.kk_number in exported.content.decode()
        _check(exported, "export", secrets)


def test_revert_cannot_move_another_regencys_family_into_ones_own():
    _world_in(VILLAGE_OTHER_REGENCY)
    family = Family.objects.filter(village_id=VILLAGE_OTHER_REGENCY).order_by("pk").first()
    record = family.history.order_by("history_id").first()
    staff = UserFactory(role=Role.DINSOS, area_id=REGENCY, is_staff=True)
    staff.user_permissions.add(*Permission.objects.all())
    client = Client()
    client.force_login(staff)
    url = reverse("admin:registry_family_simple_history", args=[family.pk, record.history_id])
    data = _attack_data(family, VILLAGE)

    assert client.get(url).status_code == 404
    assert client.post(url, data).status_code in (403, 404)
    assert client.get(reverse("admin:registry_family_history", args=[family.pk])).status_code == 404
    family.refresh_from_db()
    assert (family.village_id, family.version) == (VILLAGE_OTHER_REGENCY, 1)


def test_revert_is_refused_even_for_a_superuser_because_it_skips_the_version_check():
    _world_in(VILLAGE)
    family = Family.objects.filter(village_id=VILLAGE).order_by("pk").first()
    record = family.history.order_by("history_id").first()
    root = UserFactory(role=Role.ADMIN, area_id=None, is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    url = reverse("admin:registry_family_simple_history", args=[family.pk, record.history_id])
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(url, _attack_data(family, VILLAGE_OTHER_REGENCY)).status_code == 403
    family.refresh_from_db()
    assert (family.village_id, family.address, family.version) == (VILLAGE, "Jl. Lama", 1)


def test_export_with_an_unknown_format_in_the_address_shows_the_form_again():
    staff = UserFactory(role=Role.DINSOS, area_id=REGENCY, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename="view_family"))
    client = Client()
    client.force_login(staff)
    url = reverse("admin:registry_family_export")
    response = client.get(url, {"format": "0"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(url, 302)]
    assert "filter" in " ".join(str(m) for m in response.context["messages"]).lower()


def _change_form_data(client, url):
    """What the browser would send back from the change page, as it was rendered."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or isinstance(field, __import__("django").forms.FileField):
            continue
        data[name] = ["on"] if value is True else ([] if value is False else value)
    data = {k: v for k, v in data.items() if v != []}
    for prefix in ("members", "desil_rankings"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def test_admin_change_of_a_family_checks_and_bumps_its_version():
    _world_in(VILLAGE)
    family = Family.objects.filter(village_id=VILLAGE).order_by("pk").first()
    staff = UserFactory(role=Role.DINSOS, area_id=REGENCY, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_family", "change_family"]))
    client = Client()
    client.force_login(staff)
    url = reverse("admin:registry_family_change", args=[family.pk])
    stale = _change_form_data(client, url)

    fresh = dict(stale, address="Jl. Dari Admin", version="99")
    assert client.post(url, fresh).status_code == 302
    family.refresh_from_db()
    assert (family.address, family.version) == ("Jl. Dari Admin", 2)  # "version" in the form is ignored

    # A page opened before that change (or before an operator's change on the portal) is refused.
    response = client.post(url, dict(stale, address="Jl. Basi"))
    assert response.status_code == 200
    family.refresh_from_db()
    assert (family.address, family.version) == ("Jl. Dari Admin", 2)


def test_a_decision_cannot_be_changed_in_the_admin_even_in_ones_own_area():
    # The verval page's services check the round's state, the actor and the version; the admin would skip them.
    from verification.models import RoundFamily

    round_, entries = submitted_round(code=VILLAGE, n=1)
    entry = entries[0]
    before = model_to_dict(RoundFamily.objects.get(pk=entry.pk))
    for fields in ({"role": Role.DINSOS, "area_id": REGENCY}, {"role": Role.ADMIN, "area_id": None,
                                                                 "is_superuser": True}):
        staff = UserFactory(is_staff=True, **fields)
        staff.user_permissions.add(*Permission.objects.all())
        client = Client()
        client.force_login(staff)
        url = reverse("admin:verification_roundfamily_change", args=[entry.pk])
        assert client.get(url).status_code == 200  # shown, read-only
        response = client.post(url, {"decision": "not_eligible", "reason": "deceased", "note": "diubah lewat admin",
                                     "round": round_.pk, "family": entry.family_id, "version": entry.version})
        assert response.status_code == 403
        assert model_to_dict(RoundFamily.objects.get(pk=entry.pk)) == before
