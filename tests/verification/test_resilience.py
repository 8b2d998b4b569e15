"""Saving again must not lose or refuse what is already there: the Musdesus saved a second time with the same
attendees, and a decision spreadsheet exported before a newer decision was made."""
import datetime as dt
import io
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from accounts.models import Role
from verification import services
from verification.models import Musdesus, RoundFamily

from ..factories import VILLAGE, UserFactory, client_for, post_and_run_jobs
from ..factories import round_with_families as make_round

pytestmark = pytest.mark.django_db


class FormFields(HTMLParser):
    """What a browser would send for the page's forms: every named input, select and textarea with its value."""

    def __init__(self):
        super().__init__()
        self.fields, self._textarea, self._select = {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "file", "checkbox"):
            self.fields[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea, self.fields[name] = name, ""
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value") or ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def page_fields(response) -> dict:
    parser = FormFields()
    parser.feed(response.content.decode())
    return parser.fields


def test_saving_the_musdesus_again_with_unchanged_attendees_succeeds():
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = make_round(2)
    for entry in round_.entries.all():
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                              expected_version=entry.version)
    services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20), place="Balai Desa",
                             chair="Kepala Desa", notes="", attendees=[{"name": "BPD", "role": "Anggota BPD",
                                                                        "count": 5}])
    client = client_for(operator)
    url = reverse("round-musdesus", args=[round_.pk])
    fields = {name: value for name, value in page_fields(client.get(url)).items()
              if name.startswith("att-") or name in ("held_on", "place", "chair", "notes")}
    assert fields["att-0-name"] == "BPD" and fields["att-INITIAL_FORMS"] == "1"
    fields["place"] = "Aula Kantor Desa"  # only the place changes; the attendees are sent back as they were
    response = client.post(url, fields, follow=True)
    page = response.content.decode()
    assert "setidaknya 1" not in page and response.redirect_chain, page[:2000]
    record = Musdesus.objects.get(round=round_)
    assert record.place == "Aula Kantor Desa"
    assert [(a.name, a.role, a.count) for a in record.attendees.all()] == [("BPD", "Anggota BPD", 5)]


def test_saving_the_musdesus_form_twice_from_the_same_page_keeps_the_attendees():
    """The page as first opened (no Musdesus yet) saved, then saved again from the same page (back button,
    a second tab, a double click): the second save sends the same attendees and must succeed."""
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    round_ = make_round(2)
    for entry in round_.entries.all():
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                              expected_version=entry.version)
    client = client_for(operator)
    url = reverse("round-musdesus", args=[round_.pk])
    fields = {name: value for name, value in page_fields(client.get(url)).items()
              if name.startswith("att-") or name in ("held_on", "place", "chair", "notes")}
    assert fields["att-INITIAL_FORMS"] == "0"
    fields.update({"held_on": "2026-11-20", "place": "Balai Desa", "chair": "Kepala Desa",
                   "att-0-name": "BPD", "att-0-role": "Anggota BPD", "att-0-count": "5",
                   "att-1-name": "Warga", "att-1-role": "Masyarakat", "att-1-count": "30"})
    for _ in range(2):
        response = client.post(url, fields, follow=True)
        page = response.content.decode()
        assert response.redirect_chain and "setidaknya 1" not in page, page[:3000]
    record = Musdesus.objects.get(round=round_)
    assert sorted((a.name, a.count) for a in record.attendees.all()) == [("BPD", 5), ("Warga", 30)]


def _sheet(client, round_) -> list[list]:
    response = client.get(reverse("round-export", args=[round_.pk, "xlsx"]))
    return [list(row) for row in load_workbook(io.BytesIO(response.getvalue())).active.iter_rows(values_only=True)]


def _as_upload(rows: list[list]) -> SimpleUploadedFile:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("keputusan.xlsx", buffer.getvalue())


def test_a_stale_decision_sheet_is_refused_and_the_newer_decision_stays():
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    client = client_for(operator)
    round_ = make_round(2)
    rows = _sheet(client, round_)  # exported before anyone decided
    header = rows[0]
    assert "versi" in header
    stale_entry = round_.entries.get(family__kk_number=rows[1][header.index("nomor_kk")])
    # Meanwhile in the portal: a colleague decides the family is not eligible (the version moves on).
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=stale_entry.pk, decision="not_eligible",
                          reason="well_off", note="Punya mobil", expected_version=stale_entry.version)
    for row in rows[1:]:
        row[header.index("keputusan")] = "layak"
    response = client.post(reverse("round-import", args=[round_.pk]), {"file": _as_upload(rows)})
    page = response.content.decode()
    assert f"{stale_entry.family.kk_number} sudah diubah di portal" in page
    assert not client.session.get(f"round-import-{round_.pk}")  # nothing kept to confirm
    entry = RoundFamily.objects.get(pk=stale_entry.pk)
    assert (entry.decision, entry.reason, entry.note) == ("not_eligible", "well_off", "Punya mobil")
    assert not RoundFamily.objects.filter(round=round_).exclude(pk=stale_entry.pk).exclude(decision="").exists()


def test_a_sheet_checked_before_a_newer_decision_is_refused_at_confirmation_and_nothing_is_written():
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    client = client_for(operator)
    round_ = make_round(2)
    rows = _sheet(client, round_)
    header = rows[0]
    for row in rows[1:]:
        row[header.index("keputusan")] = "layak"
    checked = client.post(reverse("round-import", args=[round_.pk]), {"file": _as_upload(rows)})
    assert checked.status_code == 200 and client.session.get(f"round-import-{round_.pk}")
    entry = round_.entries.get(family__kk_number=rows[2][header.index("nomor_kk")])
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="not_eligible",
                          reason="moved", expected_version=entry.version)
    response = post_and_run_jobs(client, reverse("round-import", args=[round_.pk]), {"confirm": "1"})
    assert "sudah diubah di portal" in response.content.decode() and "Tidak dikerjakan" in response.content.decode()
    assert RoundFamily.objects.get(pk=entry.pk).decision == "not_eligible"
    assert not RoundFamily.objects.filter(round=round_).exclude(pk=entry.pk).exclude(decision="").exists()
