"""The verval pages: scoped, fast on big villages, and honest about refusals and conflicts."""
import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from verification import services
from verification.models import RoundFamily, VerificationRound

from ..factories import VILLAGE, VILLAGE_SAME_KECAMATAN, FamilyFactory, MemberFactory, UserFactory, client_for
from ..factories import round_with_families as make_round

pytestmark = pytest.mark.django_db



@pytest.fixture
def operator():
    return UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)


def test_round_page_runs_a_fixed_number_of_queries_whatever_the_village_size(operator, django_assert_num_queries):
    client = client_for(operator)
    for size in (3, 60):
        round_ = make_round(size)
        client.get(reverse("round-detail", args=[round_.pk]))  # warm the session
        # session, user, area (header), round, count, page, progress, musdesus, events
        with django_assert_num_queries(9):
            response = client.get(reverse("round-detail", args=[round_.pk]), {"sort": "-desil"})
        assert response.status_code == 200
        assert len(response.context["page"].object_list) == min(size, 25)


def test_round_list_searches_and_filters_by_decision(operator):
    round_ = make_round(4)
    first, *_rest = round_.entries.order_by("pk")
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=first.pk, decision="eligible",
                          expected_version=1)
    client = client_for(operator)

    def shown(**params):
        return {e.pk for e in client.get(reverse("round-detail", args=[round_.pk]), params).context["page"]}

    assert shown(status="undecided") == {e.pk for e in _rest}
    assert shown(status="eligible") == {first.pk}
    assert shown(q=first.family.kk_number) == {first.pk}
    assert shown(q=first.family.members.get().nik) == {first.pk}


def test_another_villages_round_and_families_answer_404(operator):
    mine, theirs = make_round(1), make_round(1, code=VILLAGE_SAME_KECAMATAN)
    client = client_for(operator)
    their_entry = theirs.entries.get()
    assert client.get(reverse("round-detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("round-entry", args=[theirs.pk, their_entry.pk])).status_code == 404
    # A forged POST: another village's family through my own round.
    response = client.post(reverse("round-entry", args=[mine.pk, their_entry.pk]),
                           {"action": "decide", "decision": "eligible", "version": 1})
    assert response.status_code == 404
    assert RoundFamily.objects.get(pk=their_entry.pk).decision == ""


def test_a_conflicting_save_keeps_the_users_input_and_says_who_changed_it(operator):
    colleague = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE, first_name="Budi")
    round_ = make_round(1)
    entry = round_.entries.get()
    services.entry_decide(actor=colleague, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                          expected_version=1)
    response = client_for(operator).post(reverse("round-entry", args=[round_.pk, entry.pk]), {
        "action": "decide", "decision": "not_eligible", "reason": "well_off", "note": "Rumah bertingkat",
        "version": 1})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Budi" in page and "Rumah bertingkat" in page
    form = response.context["decision_form"]
    assert form.data["version"] == 2  # saving again on purpose goes through
    assert RoundFamily.objects.get(pk=entry.pk).decision == "eligible"


def test_an_upload_that_is_not_an_image_or_pdf_is_refused_and_nothing_changes(operator):
    round_ = make_round(1)
    entry = round_.entries.get()
    fake = SimpleUploadedFile("foto.jpg", b"#!/bin/sh\necho bukan foto\n", content_type="image/jpeg")
    response = client_for(operator).post(reverse("round-entry", args=[round_.pk, entry.pk]), {
        "action": "decide", "decision": "eligible", "version": 1, "evidence": fake})
    assert response.status_code == 200
    assert response.context["decision_form"].errors["evidence"]
    entry.refresh_from_db()
    assert (entry.decision, entry.version, bool(entry.evidence)) == ("", 1, False)


def test_the_berita_acara_is_a_pdf_once_the_musdesus_is_recorded(operator):
    round_ = make_round(2)
    for entry in round_.entries.all():
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                              expected_version=1)
    client = client_for(operator)
    assert client.get(reverse("round-berita-acara", args=[round_.pk])).status_code == 404
    services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20), place="Balai Desa",
                             chair="Kades", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 5}])
    response = client.get(reverse("round-berita-acara", args=[round_.pk]))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")


def test_submitting_an_incomplete_round_is_refused_with_a_message(operator):
    round_ = make_round(2)
    response = client_for(operator).post(reverse("round-submit", args=[round_.pk]), follow=True)
    assert "Musdesus" in response.content.decode()
    assert VerificationRound.objects.get(pk=round_.pk).state == "open"


def test_home_shows_open_rounds_with_progress(operator):
    round_ = make_round(3)
    MemberFactory(family=FamilyFactory())
    response = client_for(operator).get(reverse("home"))
    rounds = response.context["rounds"]
    assert [(r.pk, r.decided, r.total) for r in rounds] == [(round_.pk, 0, 3)]
    assert "0 dari 3" in response.content.decode()


def test_bulk_decision_posts_back_the_ids_the_page_rendered_even_past_a_thousand(operator):
    import re

    round_ = make_round(0)
    for pk in (12345, 23456):  # large ids are printed with thousands separators unless unlocalized
        RoundFamily.objects.create(pk=pk, round=round_, family=MemberFactory(family=FamilyFactory()).family)
    client = client_for(operator)
    page = client.get(reverse("round-detail", args=[round_.pk])).content.decode()
    values = re.findall(r'name="entry" value="([^"]+)"', page)
    assert sorted(values) == ["12345:1", "23456:1"]
    client.post(reverse("round-bulk", args=[round_.pk]), {"entry": values, "bulk-decision": "eligible",
                                                         "confirm": "1"})
    assert set(RoundFamily.objects.filter(round=round_).values_list("decision", flat=True)) == {"eligible"}


def test_marking_a_member_deceased_through_the_page_records_the_correction(operator):
    round_ = make_round(1)
    entry = round_.entries.get()
    member = entry.family.members.get()
    client = client_for(operator)
    form = client.get(reverse("round-entry", args=[round_.pk, entry.pk])).context["member_forms"][0][1]
    data = {f"m{member.pk}-{name}": value for name, value in form.initial.items() if value is not None}
    data.update({"action": "member", "member_id": member.pk, f"m{member.pk}-life_status": "deceased",
                 f"m{member.pk}-birth_date": member.birth_date.isoformat(), f"m{member.pk}-version": 1})
    # Without the date of death the centre cannot use the news: the page asks for it and saves nothing.
    response = client.post(reverse("round-entry", args=[round_.pk, entry.pk]), data, follow=True)
    assert "Isi tanggal meninggal atau pindah." in response.content.decode()
    member.refresh_from_db()
    assert member.life_status == "present" and not entry.corrections.exists()
    data[f"m{member.pk}-life_event_date"] = "2026-11-03"
    response = client.post(reverse("round-entry", args=[round_.pk, entry.pk]), data, follow=True)
    assert "diperbarui" in response.content.decode()
    member.refresh_from_db()
    assert member.life_status == "deceased" and member.life_event_date == dt.date(2026, 11, 3)
    assert {c.field: (c.new_value, c.new_raw) for c in entry.corrections.all()} == {
        "life_status": ("Meninggal", "deceased"), "life_event_date": ("2026-11-03", "2026-11-03")}


def test_round_list_pages_cover_every_family_once_in_order_and_past_the_end_is_the_last_page(
        operator, django_assert_num_queries):
    round_ = make_round(60)
    client = client_for(operator)
    url = reverse("round-detail", args=[round_.pk])
    client.get(url)
    seen = []
    for number in (1, 2, 3):
        with django_assert_num_queries(9):  # the page's ids with the count, then its rows: as for page 1
            page = client.get(url, {"page": number}).context["page"]
        assert page.number == number and page.paginator.count == 60 and page.paginator.num_pages == 3
        seen += [(e.family.dusun, e.family.kk_number, e.pk) for e in page.object_list]
        assert all(e.head_name for e in page.object_list)
    assert seen == sorted(seen) and len({pk for *_k, pk in seen}) == 60
    assert client.get(url, {"page": 99}).context["page"].number == 3
    assert client.get(url, {"page": "x"}).context["page"].number == 1
    by_head = client.get(url, {"sort": "head", "page": 3}).context["page"].object_list
    assert [e.head_name for e in by_head] == sorted(e.head_name for e in by_head)
    empty = client.get(url, {"q": "nobody-has-this-name"}).context["page"]
    assert empty.paginator.count == 0 and list(empty.object_list) == []


def test_the_round_lists_sort_and_filter_choices_are_all_in_indonesian(operator):
    page = client_for(operator).get(reverse("round-detail", args=[make_round(2).pk])).content.decode()
    assert "---------" not in page and "descending" not in page
    assert "Nomor KK (menurun)" in page and "Dusun dan nomor KK (bawaan)" in page
    for code in RoundFamily.Decision.values:
        assert f">{code}<" not in page  # every decision shown by its label


def test_a_bulk_decision_first_shows_the_desil_spread_and_warns_about_well_off_families(operator):
    round_ = make_round(3)
    entries = list(round_.entries.select_related("family").order_by("pk"))
    for entry, desil in zip(entries, (2, 9, None), strict=True):
        FamilyFactory._meta.model.objects.filter(pk=entry.family_id).update(desil=desil)
    client = client_for(operator)
    keys = [f"{e.pk}:{e.version}" for e in entries]
    back = reverse("round-detail", args=[round_.pk]) + "?page=1"
    page = client.post(reverse("round-bulk", args=[round_.pk]), {"entry": keys, "bulk-decision": "eligible",
                                                                 "next": back})
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="bulk-confirm"' in body and "untuk 3 keluarga" in body
    assert 'data-testid="well-off-warning"' in body and "1 di antaranya berada di desil 8-10" in body
    assert [(d, n) for d, n in page.context["spread"]] == [(2, 1), (9, 1), (None, 1)]
    assert set(RoundFamily.objects.filter(round=round_).values_list("decision", flat=True)) == {""}  # not yet

    hidden = dict(re.findall(r'name="(bulk-decision|next|confirm)" value="([^"]*)"', body))
    assert hidden == {"bulk-decision": "eligible", "next": back, "confirm": "1"}
    done = client.post(reverse("round-bulk", args=[round_.pk]), {
        "entry": re.findall(r'name="entry" value="([^"]+)"', body), **hidden})
    assert done.status_code == 302 and done["Location"] == back
    assert set(RoundFamily.objects.filter(round=round_).values_list("decision", flat=True)) == {"eligible"}


def test_a_bulk_not_eligible_over_poor_families_is_confirmed_without_the_well_off_warning(operator):
    round_ = make_round(2)
    keys = [f"{e.pk}:{e.version}" for e in round_.entries.order_by("pk")]
    body = client_for(operator).post(reverse("round-bulk", args=[round_.pk]), {
        "entry": keys, "bulk-decision": "not_eligible", "bulk-reason": "well_off"}).content.decode()
    assert 'data-testid="bulk-confirm"' in body and 'data-testid="well-off-warning"' not in body
    assert 'name="bulk-reason" value="well_off"' in body
