"""Saving again must not lose or refuse what is already there: the Musdesus saved a second time with the same
attendees, and a decision spreadsheet exported before a newer decision was made."""
import datetime as dt
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from accounts.models import Role
from verification import services
from verification.models import Musdesus

from ..factories import VILLAGE, UserFactory, client_for
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
