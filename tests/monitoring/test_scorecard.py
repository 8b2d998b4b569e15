"""The update cycle as data: periods and deadlines from the centre's batches, and the regency scorecard that
shows per village how far the cycle went (data awal, verval, Musdesus, sign-off, submission on time or late,
approval, the centre's answer)."""
import csv
import datetime as dt
import io
import re
from html import unescape

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from central.ingest import ingest_batch
from central.models import CentralBatch, Submission, SubmissionItem
from central.services import batches_discover
from verification import services
from verification.models import Musdesus, RoundEvent, RoundFamily, RoundState, UpdatePeriod, VerificationRound

from ..central.helpers import downloaded_batch, families_for
from ..factories import UserFactory, client_for, round_with_families, submitted_round

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
ON_TIME, LATE, OVERDUE, IN_PROGRESS, PARTLY_REJECTED = (
    "12.09.08.2002", "12.09.08.2004", "12.09.08.2011", "12.09.08.2012", "12.09.08.2019")
NO_DATA_AWAL = ("12.09.08.2021", "12.09.08.2022")
OTHER_REGENCY = "12.72.01.1001"


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


def at(offset: int) -> dt.datetime:
    """Ten in the morning, local time, ``offset`` days from today."""
    return timezone.make_aware(dt.datetime.combine(day(offset), dt.time(10)))


# -- the calendar ------------------------------------------------------------------------------------------
def test_a_quarter_gets_the_calendar_the_seeds_describe():
    period = services.period_ensure(code="2026-Q4")
    assert (period.starts_on, period.ends_on) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert period.verval_deadline == dt.date(2026, 11, 15)
    assert period.publication_on == dt.date(2026, 12, 20)
    assert "2026-Q4" in period.name
    assert services.period_ensure(code="2026-Q4").pk == period.pk  # the same period, not a second one
    assert not period.is_final(dt.date(2026, 12, 19)) and period.is_final(dt.date(2026, 12, 20))


def test_a_late_batch_deadline_moves_the_publication_to_a_later_20th():
    period = services.period_ensure(code="2027-Q1", deadline=dt.date(2027, 3, 10))
    assert period.verval_deadline == dt.date(2027, 3, 10)
    # Dinsos keeps two weeks to approve: 24 March is past the 20th, so the April publication counts it.
    assert period.publication_on == dt.date(2027, 4, 20)


def test_an_unknown_cycle_code_is_refused_with_a_message():
    with pytest.raises(Exception, match="2026-Q5"):
        services.period_ensure(code="2026-Q5")


class _Centre:
    """The centre's batch list as the client returns it (protocol v2 batches carry deadline and cycle)."""

    def __init__(self, batches):
        self.answer = {"batches": batches, "next_cursor": "c1", "has_more": False}

    def batches(self, *, since="", regency=""):
        return self.answer


def test_a_batch_with_a_deadline_gives_its_rounds_that_deadline_and_period():
    batches_discover(client=_Centre([
        {"batch_id": "12.72-PKH-0101", "regency": "12.72", "programme": "PKH", "deadline": "2026-11-30",
         "cycle": "2026-Q4", "page_count": 1},
        {"batch_id": "12.72-PKH-0102", "regency": "12.72", "programme": "PKH", "deadline": "bukan tanggal",
         "cycle": "Q4", "page_count": 1}]))
    stored = CentralBatch.objects.get(batch_id="12.72-PKH-0101")
    assert (stored.deadline, stored.cycle) == (dt.date(2026, 11, 30), "2026-Q4")
    assert CentralBatch.objects.filter(batch_id="12.72-PKH-0102", deadline=None, cycle="").exists()

    families = families_for("12.72", 40, seed=9)
    batch = downloaded_batch("12.72-PKH-0201", families)
    CentralBatch.objects.filter(pk=batch.pk).update(deadline=dt.date(2026, 11, 30), cycle="2026-Q4")
    ingest_batch(CentralBatch.objects.get(pk=batch.pk))
    rounds = VerificationRound.objects.filter(batch_ref="12.72-PKH-0201")
    assert rounds.count() == len({f["village_code"] for f in families})
    assert {(r.deadline, r.period.code) for r in rounds} == {(dt.date(2026, 11, 30), "2026-Q4")}


def test_a_batch_without_a_deadline_takes_its_periods_deadline():
    UpdatePeriod.objects.create(code="2026-Q3", name="2026-Q3", starts_on=dt.date(2026, 7, 1),
                                ends_on=dt.date(2026, 9, 30), verval_deadline=dt.date(2026, 8, 14),
                                publication_on=dt.date(2026, 9, 20))
    batch = downloaded_batch("12.72-PKH-0301", families_for("12.72", 20, seed=3))
    CentralBatch.objects.filter(pk=batch.pk).update(cycle="2026-Q3")
    ingest_batch(CentralBatch.objects.get(pk=batch.pk))
    rounds = VerificationRound.objects.filter(batch_ref="12.72-PKH-0301")
    assert rounds.exists()
    assert {(r.deadline, r.period.code) for r in rounds} == {(dt.date(2026, 8, 14), "2026-Q3")}


def test_seed_demo_gives_the_demo_rounds_the_period_of_its_reference_date():
    from django.core.management import call_command

    call_command("seed_demo", regency="12.72", households=40, seed=5, as_of=dt.date(2026, 11, 23),
                 password="demo-pass-123", stdout=io.StringIO())
    rounds = VerificationRound.objects.filter(batch_ref=services.demo_batch_ref("12.72"))
    assert rounds.exists()
    assert {(r.period.code, r.deadline) for r in rounds} == {("2026-Q4", dt.date(2026, 12, 23))}


# -- the scorecard -----------------------------------------------------------------------------------------
def _event(round_, to_state, offset, from_state=""):
    event = RoundEvent.objects.create(round=round_, from_state=from_state or to_state, to_state=to_state)
    RoundEvent.objects.filter(pk=event.pk).update(at=at(offset))


def _answered(round_, *, accepted, rejected, offset):
    submission = Submission.objects.create(round=round_, state=Submission.State.ACKNOWLEDGED, receipt_id="R-1",
                                           sent_at=at(offset - 1), acknowledged_at=at(offset))
    SubmissionItem.objects.bulk_create(
        [SubmissionItem(submission=submission, kind="result", ref=f"r{n}", payload={}, outcome="accepted")
         for n in range(accepted)]
        + [SubmissionItem(submission=submission, kind="correction", ref=f"c{n}", payload={}, outcome="rejected",
                          reason="invalid value for floor_type") for n in range(rejected)])


@pytest.fixture
def period():
    return UpdatePeriod.objects.create(
        code=services.cycle_of(TODAY), name="Periode uji", starts_on=day(-60), ends_on=day(30),
        verval_deadline=day(-10), publication_on=day(18))


@pytest.fixture
def dinsos():
    return UserFactory(role=Role.DINSOS, area_id="12.09")


@pytest.fixture
def cycle(period, dinsos):
    """Villages of kecamatan Meranti in every state of the cycle, one village of another regency, and a
    round of another period."""
    rounds = {}
    # On time, approved, sent and answered by the centre with everything accepted.
    round_, _entries = submitted_round(ON_TIME, n=4)
    services.round_approve(actor=dinsos, round_id=round_.pk)
    services.round_mark_sent(round_id=round_.pk)
    services.round_acknowledge(round_id=round_.pk)
    RoundEvent.objects.filter(round=round_, to_state=RoundState.SUBMITTED).update(at=at(-12))
    RoundEvent.objects.filter(round=round_, to_state=RoundState.APPROVED).update(at=at(-8))
    _answered(round_, accepted=4, rejected=0, offset=-5)
    rounds[ON_TIME] = round_
    # Submitted three days late, returned once and sent again: waiting for the regency's review.
    round_, _entries = submitted_round(LATE, n=3)
    RoundEvent.objects.filter(round=round_, to_state=RoundState.SUBMITTED).update(at=at(-7))
    _event(round_, RoundState.RETURNED, -6, RoundState.SUBMITTED)
    _event(round_, RoundState.SUBMITTED, -2, RoundState.MUSDESUS_HELD)
    rounds[LATE] = round_
    # Past its deadline with one of two families decided, never submitted.
    round_ = round_with_families(2, code=OVERDUE)
    RoundFamily.objects.filter(pk=round_.entries.first().pk).update(decision="eligible")
    rounds[OVERDUE] = round_
    # Still in time (a deadline of its own, later than the period's); a batch id a spreadsheet would compute.
    rounds[IN_PROGRESS] = round_with_families(1, code=IN_PROGRESS, batch_ref='=HYPERLINK("http://x")')
    # Approved and answered, one correction rejected by the centre.
    round_, _entries = submitted_round(PARTLY_REJECTED, n=2)
    RoundEvent.objects.filter(round=round_, to_state=RoundState.SUBMITTED).update(at=at(-10))
    services.round_approve(actor=dinsos, round_id=round_.pk)
    services.round_mark_sent(round_id=round_.pk)
    RoundEvent.objects.filter(round=round_, to_state=RoundState.APPROVED).update(at=at(-9))
    _answered(round_, accepted=2, rejected=1, offset=-3)
    rounds[PARTLY_REJECTED] = round_
    rounds[OTHER_REGENCY] = round_with_families(2, code=OTHER_REGENCY)
    VerificationRound.objects.filter(pk__in=[r.pk for r in rounds.values()]).update(
        period=period, deadline=day(-10))
    VerificationRound.objects.filter(pk=rounds[OVERDUE].pk).update(deadline=day(-4))
    VerificationRound.objects.filter(pk=rounds[IN_PROGRESS].pk).update(deadline=day(5))
    # A round of an earlier period does not count as this period's data awal.
    earlier = UpdatePeriod.objects.create(code="2020-Q1", name="2020-Q1", starts_on=dt.date(2020, 1, 1),
                                          ends_on=dt.date(2020, 3, 31), verval_deadline=dt.date(2020, 2, 15),
                                          publication_on=dt.date(2020, 3, 20))
    round_with_families(1, code=NO_DATA_AWAL[0], period=earlier)
    return rounds


def row_text(page: str, village_code: str) -> str:
    match = re.search(rf'<tr data-village="{re.escape(village_code)}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {village_code}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def stat(page: str, name: str) -> str:
    return re.search(rf'data-testid="{name}">([^<]*)<', page).group(1).strip()


def test_the_scorecard_shows_each_village_where_its_update_cycle_stands(cycle, dinsos):
    page = client_for(dinsos).get(reverse("scorecard"), {"kecamatan": "12.09.08"}).content.decode()
    on_time = row_text(page, ON_TIME)
    assert "Meranti" in on_time and f"{day(-12):%d-%m-%Y} tepat waktu" in on_time
    assert f"20-11-2026 ditandatangani {TODAY:%d-%m-%Y}" in on_time  # the Musdesus and the head's sign-off
    assert f"{day(-8):%d-%m-%Y}" in on_time  # approved
    assert "Sudah dijawab pusat" in on_time and "4 item diterima, 0 ditolak" in on_time
    assert "4/4 (100%)" in on_time

    late = row_text(page, LATE)
    assert f"{day(-7):%d-%m-%Y} terlambat 3 hari" in late
    assert f"terakhir {day(-2):%d-%m-%Y}, dikembalikan 1 kali" in late
    assert "Dikirim ke kabupaten" in late  # the round's state: waiting for the regency's review

    overdue = row_text(page, OVERDUE)
    assert "lewat batas waktu 4 hari" in overdue and "1/2 (50%)" in overdue
    assert f"batas waktu {day(-4):%d-%m-%Y}" in overdue

    assert "sisa 5 hari" in row_text(page, IN_PROGRESS)
    partly = row_text(page, PARTLY_REJECTED)
    assert "2 item diterima, 1 ditolak" in partly and "tepat waktu" in partly and f"{day(-9):%d-%m-%Y}" in partly
    for code in NO_DATA_AWAL:
        assert "data awal belum diterima" in row_text(page, code)
    assert OTHER_REGENCY not in page

    # The summary counts the villages of the chosen kecamatan.
    assert stat(page, "sum-villages") == "5 / 7"
    assert (stat(page, "sum-on-time"), stat(page, "sum-late"), stat(page, "sum-overdue")) == ("2", "1", "1")
    assert (stat(page, "sum-approved"), stat(page, "sum-accepted")) == ("2", "1")
    assert "1 dengan item ditolak" in page and "1 menunggu tinjauan Anda" in page
    assert "verval 83% (10 dari 12 keluarga)" in page
    subtotal = re.search(r'data-testid="subtotal-12.09.08">(.*?)</tr>', page, re.S).group(1)
    subtotal = " ".join(re.sub(r"<[^>]+>", " ", subtotal).split())
    assert "5 dari 7 desa" in subtotal and "2 tepat waktu, 1 terlambat, 1 lewat batas waktu" in subtotal
    assert "1 diterima pusat" in subtotal
    # The period's calendar: not final before its publication on the 20th.
    assert f"{day(-10):%d-%m-%Y}" in page and f"{day(18):%d-%m-%Y}" in page and "belum final" in page


def test_the_status_filter_keeps_the_villages_in_that_state(cycle, dinsos):
    client = client_for(dinsos)
    late = client.get(reverse("scorecard"), {"status": "late"}).content.decode()
    assert f'data-village="{LATE}"' in late and f'data-village="{ON_TIME}"' not in late
    overdue = client.get(reverse("scorecard"), {"status": "overdue"}).content.decode()
    assert re.findall(r'data-village="([\d.]+)"', overdue) == [OVERDUE]
    rejected = client.get(reverse("scorecard"), {"status": "rejected"}).content.decode()
    assert re.findall(r'data-village="([\d.]+)"', rejected) == [PARTLY_REJECTED]
    missing = client.get(reverse("scorecard"), {"status": "not_received", "kecamatan": "12.09.08"}).content.decode()
    assert re.findall(r'data-village="([\d.]+)"', missing) == list(NO_DATA_AWAL)
    # The summary still counts the whole area whatever the status shown.
    assert stat(missing, "sum-villages") == "5 / 7"


def test_the_period_becomes_final_once_its_publication_date_has_passed(cycle, dinsos, period):
    UpdatePeriod.objects.filter(pk=period.pk).update(publication_on=day(-1))
    page = client_for(dinsos).get(reverse("scorecard")).content.decode()
    assert re.search(r'badge ok">final<', page) and "belum final" not in page


def test_another_period_is_chosen_by_its_code_and_an_unknown_code_is_explained(cycle, dinsos):
    client = client_for(dinsos)
    earlier = client.get(reverse("scorecard"), {"periode": "2020-Q1"}).content.decode()
    assert re.findall(r'data-village="([\d.]+)"', earlier).count(NO_DATA_AWAL[0]) == 1
    assert "data awal belum diterima" not in row_text(earlier, NO_DATA_AWAL[0])
    wrong = client.get(reverse("scorecard"), {"periode": "1999-Q9"}, follow=True).content.decode()
    assert "Tidak ada periode pemutakhiran 1999-Q9" in wrong and f'data-village="{LATE}"' in wrong


@pytest.mark.parametrize("role,area", [(Role.VILLAGE_OPERATOR, ON_TIME), (Role.VILLAGE_HEAD, ON_TIME),
                                       (Role.FACILITATOR, "12.09.08")])
def test_village_and_facilitator_roles_have_no_scorecard(cycle, role, area):
    client = client_for(UserFactory(role=role, area_id=area))
    assert client.get(reverse("scorecard")).status_code == 403
    assert client.get(reverse("scorecard-export", args=["csv"])).status_code == 403


def test_dinsos_of_another_regency_sees_only_its_own_and_not_this_one(cycle):
    client = client_for(UserFactory(role=Role.DINSOS, area_id="12.72"))
    own = client.get(reverse("scorecard")).content.decode()
    assert f'data-village="{OTHER_REGENCY}"' in own and ON_TIME not in own
    assert client.get(reverse("scorecard"), {"kabupaten": "12.09"}).status_code == 404
    assert client.get(reverse("scorecard-export", args=["csv"]), {"kabupaten": "12.09"}).status_code == 404


def test_an_administrator_picks_the_regency(cycle):
    client = client_for(UserFactory(role=Role.ADMIN, area_id=None))
    first = client.get(reverse("scorecard")).content.decode()
    assert 'value="12.09" selected' in first and 'value="12.72"' in first and f'data-village="{LATE}"' in first
    other = client.get(reverse("scorecard"), {"kabupaten": "12.72"}).content.decode()
    assert f'data-village="{OTHER_REGENCY}"' in other and f'data-village="{LATE}"' not in other
    assert client.get(reverse("scorecard"), {"kabupaten": "12.09.08"}).status_code == 404  # not a regency


def test_the_export_has_the_same_rows_with_bahasa_headers_and_no_formulas(cycle, dinsos):
    client = client_for(dinsos)
    response = client.get(reverse("scorecard-export", args=["csv"]), {"kecamatan": "12.09.08"})
    assert response["Content-Disposition"].startswith('attachment; filename="siklus-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["kode_desa"] for r in rows] == sorted([ON_TIME, LATE, OVERDUE, IN_PROGRESS, PARTLY_REJECTED,
                                                     *NO_DATA_AWAL])
    by_code = {r["kode_desa"]: r for r in rows}
    assert by_code[LATE]["ketepatan_waktu"] == "terlambat 3 hari"
    assert by_code[LATE]["dikirim_pertama"] == day(-7).isoformat()
    assert by_code[LATE]["dikembalikan"] == "1"
    assert by_code[OVERDUE]["ketepatan_waktu"] == "lewat batas waktu 4 hari"
    assert (by_code[OVERDUE]["sudah_diputuskan"], by_code[OVERDUE]["persen_verval"]) == ("1", "50")
    assert by_code[ON_TIME]["status_pusat"] == "Sudah dijawab pusat" and by_code[ON_TIME]["item_diterima"] == "4"
    assert (by_code[PARTLY_REJECTED]["item_diterima"], by_code[PARTLY_REJECTED]["item_ditolak"]) == ("2", "1")
    assert by_code[NO_DATA_AWAL[0]]["status_ronde"] == "Data awal belum diterima"
    assert by_code[IN_PROGRESS]["batch"] == "'=HYPERLINK(\"http://x\")"
    assert by_code[ON_TIME]["kecamatan"] == "Meranti"

    late_only = client.get(reverse("scorecard-export", args=["xlsx"]), {"status": "late"})
    sheet = openpyxl.load_workbook(io.BytesIO(late_only.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:4] == ("kode_kecamatan", "kecamatan", "kode_desa", "desa")
    assert [v[2] for v in values[1:]] == [LATE]
    assert client.get(reverse("scorecard-export", args=["csv"]).replace(".csv", ".pdf")).status_code == 404


def _village_codes(n: int) -> list[str]:
    from registry.models import Region

    return list(Region.objects.filter(code__startswith="12.09.", level=Region.Level.VILLAGE)
                .order_by("code").values_list("code", flat=True)[:n])


def _busy_round(code, period, dinsos):
    round_, _entries = submitted_round(code, n=2)
    services.round_approve(actor=dinsos, round_id=round_.pk)
    services.round_mark_sent(round_id=round_.pk)
    VerificationRound.objects.filter(pk=round_.pk).update(period=period, deadline=period.verval_deadline)
    _answered(round_, accepted=2, rejected=1, offset=-1)


def test_the_scorecard_reads_in_a_fixed_number_of_queries_whatever_the_number_of_villages(
        period, dinsos, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    codes = _village_codes(6)
    _busy_round(codes[0], period, dinsos)
    client = client_for(dinsos)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("scorecard"))
    for code in codes[1:]:
        _busy_round(code, period, dinsos)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(reverse("scorecard")).content.decode()
    assert page.count("2 item diterima, 1 ditolak") == 6
    with django_assert_max_num_queries(10):
        client.get(reverse("scorecard-export", args=["csv"]))
    assert len(one.captured_queries) <= 10
    assert Musdesus.objects.count() == 6  # every village has the full cycle behind it
