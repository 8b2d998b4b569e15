"""Personal data (UU PDP): NIKs masked where the role does not need them whole, every read of a whole NIK and
every export of personal data recorded and shown to the regency's Dinsos, no NIK in the application's logs."""
import datetime as dt
import io
import logging

import pytest
from django.urls import reverse

from accounts.models import Role
from privacy.logscrub import ScrubPersonalData, install_on_handlers
from privacy.masking import FULL_NIK_ROLES, Context, can_see_full_nik, mask_nik, mask_nik_fields
from privacy.models import PersonalDataAccess
from privacy.services import record_access
from verification import services as verification_services

from .factories import (
    KECAMATAN,
    REGENCY,
    VILLAGE,
    VILLAGE_OTHER_REGENCY,
    FamilyFactory,
    MemberFactory,
    UserFactory,
    client_for,
    nik_for,
    round_with_families,
    submitted_round,
    village,
)

pytestmark = pytest.mark.django_db


def masked(nik: str) -> str:
    return nik[:4] + "********" + nik[-4:]


@pytest.fixture
def family():
    family = FamilyFactory(village=village(VILLAGE))
    head = MemberFactory(family=family, name="Siti Aminah")
    child = MemberFactory(family=family, name="Budi", relationship="child", birth_date=dt.date(2010, 3, 4))
    return family, head, child


# -- the rule ---------------------------------------------------------------------------------------------------

def test_a_masked_nik_keeps_the_regency_and_the_serial_and_hides_the_birth_date():
    assert mask_nik("1209081505800001") == "1209********0001"
    assert mask_nik("") == "" and mask_nik(None) == "" and mask_nik("12345") == "*****"


def test_only_operators_dinsos_and_administrators_read_a_whole_nik_and_only_on_a_detail():
    assert FULL_NIK_ROLES.issubset(Role.values)
    for role, area in [(Role.VILLAGE_OPERATOR, VILLAGE), (Role.DINSOS, REGENCY), (Role.ADMIN, None)]:
        user = UserFactory(role=role, area_id=area)
        assert can_see_full_nik(user, Context.DETAIL) and not can_see_full_nik(user, Context.LIST)
    for role, area in [(Role.VILLAGE_HEAD, VILLAGE), (Role.FACILITATOR, KECAMATAN)]:
        assert not can_see_full_nik(UserFactory(role=role, area_id=area), Context.DETAIL)


def test_nik_keys_in_a_payload_are_masked_at_every_depth():
    payload = {"nik": "1209081505800001", "member": {"nik": "1209084505800002", "name": "Siti"},
               "members": [{"nik": "1209081505800003"}]}
    assert mask_nik_fields(payload) == {"nik": "1209********0001",
                                        "member": {"nik": "1209********0002", "name": "Siti"},
                                        "members": [{"nik": "1209********0003"}]}


# -- pages ------------------------------------------------------------------------------------------------------

def test_a_facilitator_reads_masked_niks_on_the_family_page_and_nothing_is_recorded(family):
    fam, head, child = family
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    page = client_for(facilitator).get(reverse("family-detail", args=[fam.pk])).content.decode()
    assert "Siti Aminah" in page
    assert head.nik not in page and child.nik not in page
    assert masked(head.nik) in page and masked(child.nik) in page
    assert not PersonalDataAccess.objects.exists()


def test_a_corrected_nik_in_the_change_history_is_masked_for_the_village_head():
    round_ = round_with_families(1)
    entry = round_.entries.get()
    member = entry.family.members.get()
    old_nik = member.nik
    new_nik = nik_for(VILLAGE, member.birth_date)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    verification_services.member_update(actor=operator, round_id=round_.pk, entry_id=entry.pk, member_id=member.pk,
                                        changes={"nik": new_nik}, expected_version=1)
    head_of_village = UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE)
    client = client_for(head_of_village)
    for url in (reverse("family-detail", args=[entry.family_id]), reverse("round-entry", args=[round_.pk, entry.pk])):
        page = client.get(url).content.decode()
        assert old_nik not in page and new_nik not in page, url
        assert masked(old_nik) in page and masked(new_nik) in page, url
    assert not PersonalDataAccess.objects.exists()


def test_the_operator_reads_whole_niks_on_the_family_page_and_the_read_is_recorded(family):
    fam, head, child = family
    operator = UserFactory(username="op-meranti", role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    page = client_for(operator).get(reverse("family-detail", args=[fam.pk]), REMOTE_ADDR="10.1.2.3").content.decode()
    assert head.nik in page and child.nik in page
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.username, access.role, access.kind) == (
        operator, "op-meranti", Role.VILLAGE_OPERATOR, PersonalDataAccess.Kind.VIEW_NIK)
    assert (access.object_type, access.object_id, access.row_count, access.area_id, access.ip) == (
        "family", str(fam.pk), 2, VILLAGE, "10.1.2.3")


def test_dinsos_reads_whole_niks_on_a_verval_entry_and_the_read_is_recorded():
    round_, entries = submitted_round()
    dinsos = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    entry = entries[0]
    nik = entry.family.members.get().nik
    page = client_for(dinsos).get(reverse("round-entry", args=[round_.pk, entry.pk])).content.decode()
    assert nik in page
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.kind, access.object_type, access.object_id, access.row_count) == (
        dinsos, "view_nik", "verval_entry", str(entry.pk), 1)


def test_the_review_list_masks_a_corrected_nik():
    round_ = round_with_families(1)
    entry = round_.entries.get()
    member = entry.family.members.get()
    old_nik, new_nik = member.nik, nik_for(VILLAGE, member.birth_date)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    verification_services.member_update(actor=operator, round_id=round_.pk, entry_id=entry.pk, member_id=member.pk,
                                        changes={"nik": new_nik}, expected_version=1)
    dinsos = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    page = client_for(dinsos).get(reverse("round-review", args=[round_.pk])).content.decode()
    assert masked(old_nik) in page and masked(new_nik) in page
    assert old_nik not in page and new_nik not in page


# -- API --------------------------------------------------------------------------------------------------------

def test_the_api_family_list_masks_niks_for_every_role(family):
    fam, head, child = family
    for role, area in [(Role.VILLAGE_OPERATOR, VILLAGE), (Role.DINSOS, REGENCY), (Role.FACILITATOR, KECAMATAN)]:
        body = client_for(UserFactory(role=role, area_id=area)).get("/api/v1/families/").json()
        niks = {m["nik"] for f in body["results"] for m in f["members"]}
        assert niks == {masked(head.nik), masked(child.nik)}, role
    assert not PersonalDataAccess.objects.exists()


def test_the_api_family_detail_shows_whole_niks_to_the_operator_and_records_the_read(family):
    fam, head, child = family
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    body = client_for(operator).get(f"/api/v1/families/{fam.pk}/").json()
    assert {m["nik"] for m in body["members"]} == {head.nik, child.nik}
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.kind, access.object_type, access.object_id, access.row_count, access.area_id) == (
        operator, "view_nik", "family", str(fam.pk), 2, VILLAGE)


def test_the_api_family_detail_stays_masked_for_a_facilitator(family):
    fam, head, _child = family
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN)
    body = client_for(facilitator).get(f"/api/v1/families/{fam.pk}/").json()
    assert masked(head.nik) in {m["nik"] for m in body["members"]} and head.nik not in str(body)
    assert not PersonalDataAccess.objects.exists()


def test_a_member_change_sent_to_the_centre_shows_its_nik_masked_on_the_page_and_in_the_api():
    from central.models import Submission, SubmissionItem

    round_ = round_with_families(1)
    entry = round_.entries.get()
    submission = Submission.objects.create(round=round_)
    nik = nik_for(VILLAGE, dt.date(2026, 1, 2))
    SubmissionItem.objects.create(
        submission=submission, kind="member_change", ref="M1", entry=entry, family=entry.family,
        payload={"change": "added", "nik": nik, "member": {"name": "Bayi Baru", "nik": nik}})
    client = client_for(UserFactory(role=Role.DINSOS, area_id=REGENCY))
    page = client.get(reverse("sync-submission", args=[submission.pk])).content.decode()
    assert "Bayi Baru" in page and masked(nik) in page and nik not in page
    body = client.get("/api/v1/sync/submission-items/").json()
    assert nik not in str(body)
    item = body["results"][0]
    assert item["payload"]["nik"] == masked(nik) and item["payload"]["member"]["nik"] == masked(nik)
    assert masked(nik) in item["description"]


def test_the_sync_list_masks_niks_in_a_held_batchs_reason():
    from central.models import CentralBatch

    CentralBatch.objects.create(batch_id="12.09-PKH-HELD", regency_code=REGENCY, programme="PKH",
                                last_error="page 1, row 2: NIK 1209081505800001 appears twice in the batch")
    page = client_for(UserFactory(role=Role.DINSOS, area_id=REGENCY)).get(reverse("sync-overview")).content.decode()
    assert "NIK 1209********0001 appears twice" in page and "1209081505800001" not in page


# -- exports ----------------------------------------------------------------------------------------------------

def test_a_round_export_is_recorded_with_its_row_count():
    round_ = round_with_families(3)
    operator = UserFactory(username="op-export", role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    response = client_for(operator).get(reverse("round-export", args=[round_.pk, "xlsx"]), {"q": "x"})
    assert response.status_code == 200
    access = PersonalDataAccess.objects.get()
    assert (access.username, access.kind, access.row_count, access.area_id) == ("op-export", "export", 3, VILLAGE)
    assert access.export_name == f"verval-{VILLAGE}-{round_.batch_ref}.xlsx"
    assert access.filters == {"round": str(round_.pk)}  # the export ignores the query string; so does its record


def test_the_berita_acara_pdf_is_recorded_as_an_export_of_personal_data():
    round_, _entries = submitted_round(n=2)
    dinsos = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    response = client_for(dinsos).get(reverse("round-berita-acara", args=[round_.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.kind, access.row_count, access.area_id) == (dinsos, "export", 2, VILLAGE)
    assert access.export_name.startswith("berita-acara-") and access.export_name.endswith(".pdf")


def test_the_approved_list_export_is_recorded_for_the_dinsos_regency():
    dinsos = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    response = client_for(dinsos).get(reverse("approved-export", args=["csv"]))
    assert response.status_code == 200
    access = PersonalDataAccess.objects.get()
    assert (access.kind, access.export_name, access.area_id, access.row_count) == (
        "export", "daftar-disetujui.csv", REGENCY, 0)


# -- the access log page ----------------------------------------------------------------------------------------

def _access(user, area, **fields):
    return record_access(actor=user, ip="10.0.0.1", kind=fields.pop("kind", "view_nik"), area_code=area,
                         object_type="family", object_id=fields.pop("object_id", 1), **fields)


def test_dinsos_sees_the_access_log_of_its_regency_only_and_can_filter_it(django_assert_max_num_queries):
    dinsos = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    here = UserFactory(username="op-here", role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    away = UserFactory(username="op-away", role=Role.VILLAGE_OPERATOR, area_id=VILLAGE_OTHER_REGENCY)
    for n in range(60):
        _access(here, VILLAGE, object_id=1000 + n)
    exported = _access(here, VILLAGE, kind="export", export_name="verval-x.xlsx", row_count=7,
                       filters={"q": "1209081505800001"})
    foreign = _access(away, VILLAGE_OTHER_REGENCY, object_id=424242)
    client = client_for(dinsos)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("privacy-access-log")).content.decode()
    assert "op-here" in page and "op-away" not in page and f'data-access="{foreign.pk}"' not in page
    assert page.count("data-access=") == 50 and "?page=2" in page  # the shared pager
    second = client.get(reverse("privacy-access-log"), {"page": 2}).content.decode()
    assert second.count("data-access=") == 11
    only_exports = client.get(reverse("privacy-access-log"), {"kind": "export", "user": "op-here"}).content.decode()
    assert only_exports.count("data-access=") == 1 and f'data-access="{exported.pk}"' in only_exports
    assert "verval-x.xlsx" in only_exports and "1209********0001" in only_exports
    assert "1209081505800001" not in only_exports
    today = dt.date.today()
    none_yet = client.get(reverse("privacy-access-log"), {"date_to": (today - dt.timedelta(days=2)).isoformat()})
    assert none_yet.content.decode().count("data-access=") == 0
    assert reverse("privacy-access-log") in client.get(reverse("home")).content.decode()  # in the Dinsos menu


@pytest.mark.parametrize("role,area", [(Role.VILLAGE_OPERATOR, VILLAGE), (Role.FACILITATOR, KECAMATAN),
                                       (Role.VILLAGE_HEAD, VILLAGE)])
def test_village_and_facilitator_accounts_cannot_read_the_access_log(role, area):
    client = client_for(UserFactory(role=role, area_id=area))
    assert client.get(reverse("privacy-access-log")).status_code == 403
    assert reverse("privacy-access-log") not in client.get(reverse("home")).content.decode()


def test_the_access_records_are_read_only_in_the_admin():
    admin = UserFactory(username="root", role=Role.ADMIN, area_id=None, is_staff=True, is_superuser=True)
    access = _access(admin, VILLAGE)
    client = client_for(admin)
    assert client.get(reverse("admin:privacy_personaldataaccess_changelist")).status_code == 200
    assert client.get(reverse("admin:privacy_personaldataaccess_add")).status_code == 403
    assert client.post(reverse("admin:privacy_personaldataaccess_delete", args=[access.pk]),
                       {"post": "yes"}).status_code == 403
    assert PersonalDataAccess.objects.filter(pk=access.pk).exists()


# -- logs -------------------------------------------------------------------------------------------------------

@pytest.fixture
def root_output():
    """What the root handler configured by settings.LOGGING writes."""
    handler = next(h for h in logging.getLogger().handlers
                   if any(isinstance(f, ScrubPersonalData) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_a_nik_in_a_log_line_comes_out_masked(root_output):
    log = logging.getLogger("verification.services")
    log.warning("member 1209081505800001 changed, KK %s, by %s", "1209081501200003", "op")
    log.warning("family %(kk)s", {"kk": "1209081501200004"})
    try:
        raise ValueError("NIK 1209084505800002 does not match")
    except ValueError:
        log.exception("import failed")
    text = root_output.getvalue()
    assert "1209********0001" in text and "1209********0003" in text and "1209********0004" in text
    assert "1209********0002" in text  # inside the traceback too
    for nik in ("1209081505800001", "1209081501200003", "1209081501200004", "1209084505800002"):
        assert nik not in text


def test_a_celery_worker_handler_gets_the_scrubbing_filter_too():
    logger, handler = logging.getLogger("celery-test"), logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        install_on_handlers(logger=logger)
        install_on_handlers(logger=logger)
        assert sum(isinstance(f, ScrubPersonalData) for f in handler.filters) == 1
        logger.warning("nik %s", "1209081505800001")
        assert "1209********0001" in handler.stream.getvalue()
    finally:
        logger.removeHandler(handler)


# -- the admin --------------------------------------------------------------------------------------------------

def test_the_member_admin_list_masks_niks_and_its_change_page_is_recorded(family):
    fam, head, child = family
    admin = UserFactory(username="root2", role=Role.ADMIN, area_id=None, is_staff=True, is_superuser=True)
    client = client_for(admin)
    listing = client.get(reverse("admin:registry_member_changelist")).content.decode()
    assert masked(head.nik) in listing and head.nik not in listing
    assert not PersonalDataAccess.objects.exists()
    assert head.nik in client.get(reverse("admin:registry_member_change", args=[head.pk])).content.decode()
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.kind, access.object_type, access.object_id, access.area_id) == (
        admin, "view_nik", "member", str(head.pk), VILLAGE)


def test_an_admin_export_of_families_is_recorded_with_its_row_count(family, rf):
    from django.contrib import admin as django_admin

    from registry.models import Family

    user = UserFactory(username="dinsos-staff", role=Role.DINSOS, area_id=REGENCY, is_staff=True)
    request = rf.get("/admin/registry/family/export/")
    request.user = user
    model_admin = django_admin.site._registry[Family]
    data = model_admin.get_data_for_export(request, model_admin.get_queryset(request))
    assert data.height == 1
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.kind, access.export_name, access.row_count, access.area_id) == (
        user, "export", "admin-family", 1, REGENCY)


def test_the_development_servers_request_lines_are_scrubbed_too():
    from django.conf import settings
    from django.utils.log import configure_logging

    # Other tests (a Celery worker in-process, Playwright) rewire logging; read it as the portal sets it up.
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    handlers = logging.getLogger("django.server").handlers
    assert handlers and all(any(isinstance(f, ScrubPersonalData) for f in h.filters) for h in handlers)
