"""Exports neutralise cells a spreadsheet would run as formulas (issue 13, finding 6): a member named
``=HYPERLINK(...)`` stays text, prefixed with ', in every export path; numbers, negative ones too, stay numbers."""
import datetime as dt
import io
import uuid

import pytest
import tablib
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from import_export.formats.base_formats import XLSX
from openpyxl import load_workbook

from accounts.models import Role
from dtsen_portal.spreadsheets import neutralise_cell, spreadsheet_response
from groundcheck.models import Assignment, Visit
from registry.admin import FamilyResource
from registry.models import Member

from .factories import KECAMATAN, REGENCY, VILLAGE, FamilyFactory, UserFactory, round_with_families

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x","y")'


def cells(content: bytes) -> list:
    return [cell for row in load_workbook(io.BytesIO(content)).active.iter_rows() for cell in row]


def assert_neutralised(content: bytes, text: str = FORMULA) -> None:
    found = [c for c in cells(content) if isinstance(c.value, str) and text in c.value]
    assert found, "the value is not in the export"
    for cell in found:
        assert cell.data_type == "s" and cell.value == "'" + text


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_member_named_as_a_formula_stays_text_in_the_round_export():
    round_ = round_with_families(1)
    Member.objects.filter(family=round_.entries.get().family).update(name=FORMULA)
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    response = client_for(operator).get(reverse("round-export", args=[round_.pk, "xlsx"]))
    assert response.status_code == 200
    assert_neutralised(response.getvalue())
    csv = client_for(operator).get(reverse("round-export", args=[round_.pk, "csv"])).getvalue().decode()
    assert "'=HYPERLINK" in csv


def test_a_visit_finding_written_as_a_formula_stays_text_in_the_visits_export():
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=KECAMATAN, first_name="@SUM(A1)")
    family = FamilyFactory()
    Visit.objects.create(client_uuid=uuid.uuid4(), family=family, facilitator=facilitator, recommendation="continue",
                         visited_at=timezone.now(), findings="+cmd|' /C calc'!A0",
                         assignment=Assignment.objects.create(family=family, facilitator=facilitator))
    dinsos = UserFactory(role=Role.DINSOS, area_id=REGENCY)
    content = client_for(dinsos).get(reverse("groundcheck-visits-export", args=["xlsx"])).content
    assert_neutralised(content, "+cmd|' /C calc'!A0")
    assert_neutralised(content, "@SUM(A1)")


def test_an_address_written_as_a_formula_stays_text_in_the_admin_export():
    FamilyFactory(address=FORMULA)
    dataset = FamilyResource().export()
    assert_neutralised(XLSX().export_data(dataset))


def test_every_page_export_neutralises_text_but_keeps_numbers_and_dates():
    dataset = tablib.Dataset(headers=["=name", "amount", "when"])
    for value in ("=1+1", "+62", "-x", "@me", "\tTAB", "\rCR", "aman"):
        dataset.append([value, -5, dt.date(2026, 1, 2)])
    response = spreadsheet_response(dataset, "x", "xlsx")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows())
    assert rows[0][0].value == "'=name"
    # (XML reads a carriage return back as a line feed)
    assert [r[0].value for r in rows[1:]] == ["'=1+1", "'+62", "'-x", "'@me", "'\tTAB", "'\nCR", "aman"]
    assert all(r[0].data_type == "s" for r in rows)
    assert {r[1].value for r in rows[1:]} == {-5} and all(r[1].data_type == "n" for r in rows[1:])
    assert neutralise_cell(-5) == -5 and neutralise_cell("'=x") == "'=x"
