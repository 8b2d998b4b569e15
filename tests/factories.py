"""factory-boy factories for tests; they build valid NIK/KK numbers for real regions."""
import datetime as dt
import itertools

import factory
from django.contrib.auth.hashers import make_password

from accounts.models import Role, User
from registry.models import DesilRanking, Family, Member, Region
from verification.models import RoundFamily, VerificationRound

_serial = itertools.count(1)
PASSWORD = "rahasia-uji-123"

# Real regions (loaded by tests/conftest.py). Asahan's kecamatan codes start at 08.
REGENCY = "12.09"  # Kabupaten Asahan
KECAMATAN = "12.09.08"  # Meranti
VILLAGE = "12.09.08.2002"  # Desa Meranti
VILLAGE_SAME_KECAMATAN = "12.09.08.2004"  # Perkebunan Sei Balai
VILLAGE_OTHER_KECAMATAN = "12.09.09.2002"  # Air Joman, kecamatan Air Joman
OTHER_REGENCY = "12.72"  # Kota Pematangsiantar
KECAMATAN_OTHER_REGENCY = "12.72.01"
VILLAGE_OTHER_REGENCY = "12.72.01.1001"  # Kelurahan Kebun Sayur


def village(code: str = VILLAGE) -> Region:
    return Region.objects.get(code=code)


def kk_for(region_code: str, issued: dt.date = dt.date(2020, 1, 15)) -> str:
    digits = region_code.replace(".", "")[:6]
    return f"{digits}{issued:%d%m%y}{next(_serial) % 10000 or 1:04d}"


def nik_for(region_code: str, birth_date: dt.date, sex: str = "L") -> str:
    digits = region_code.replace(".", "")[:6]
    day = birth_date.day + (40 if sex == "P" else 0)
    return f"{digits}{day:02d}{birth_date:%m%y}{next(_serial) % 10000 or 1:04d}"


class FamilyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Family

    village = factory.LazyFunction(village)
    kk_number = factory.LazyAttribute(lambda o: kk_for(o.village.code))
    dusun = "Dusun I"
    rt = "001"
    rw = "002"
    address = "Jl. Merdeka No. 1"
    floor_type = "earth"
    wall_type = "woven_bamboo"
    roof_type = "zinc"
    desil = 2


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    family = factory.SubFactory(FamilyFactory)
    name = factory.Sequence(lambda n: f"Warga {n}")
    sex = "L"
    birth_date = dt.date(1980, 5, 17)
    nik = factory.LazyAttribute(lambda o: nik_for(o.family.village.code, o.birth_date, o.sex))
    relationship = Member.Relationship.HEAD


class DesilRankingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DesilRanking

    family = factory.SubFactory(FamilyFactory)
    period = dt.date(2026, 10, 20)
    desil = 3


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.LazyFunction(lambda: make_password(PASSWORD))
    role = Role.VILLAGE_OPERATOR
    area_id = VILLAGE


def _family_in(code: str) -> Family:
    family = FamilyFactory(village=village(code))
    MemberFactory(family=family)
    return family


def _round_in(code: str):
    return round_with_families(1, code=code)


def _entry_in(code: str):
    return round_with_families(1, code=code).entries.get()


def _proposal_in(code: str):
    entry = _entry_in(code)
    entry.is_proposal = True
    entry.save(update_fields=["is_proposal"])
    return entry


def _visit_in(code: str):
    import uuid

    from groundcheck.models import Assignment, Visit

    family = _family_in(code)
    facilitator = UserFactory(role=Role.FACILITATOR, area_id=code[:8])
    assignment = Assignment.objects.create(family=family, facilitator=facilitator)
    return Visit.objects.create(client_uuid=uuid.uuid4(), assignment=assignment, family=family,
                                facilitator=facilitator, visited_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                                recommendation="continue")


def _report_in(code: str):
    from distribution.models import CitizenReport

    return CitizenReport.objects.create(reference=f"CB-T{next(_serial):07d}", kind="usulan", village_id=code,
                                        subject_name="Warga", reason="Belum terdata", reporter_name="Tetangga")


def _determination_in(code: str):
    from distribution.models import Determination

    family = _family_in(code)
    return Determination.objects.create(determination_id=f"D-T{next(_serial)}", central_id="X", family=family,
                                        village_id=code, programme="BLTS-KESRA", period="2025-10")


def _disbursement_in(code: str):
    from distribution.models import Disbursement, PaymentPeriod

    period = PaymentPeriod.objects.get(programme_id="BLTS-KESRA", code="2025-T4")
    return Disbursement.objects.create(family=_family_in(code), programme_id="BLTS-KESRA", period=period,
                                       amount_planned=900_000)


def _batch_in(code: str):
    from central.models import CentralBatch

    return CentralBatch.objects.create(batch_id=f"{code[:5]}-PKH-T{next(_serial)}", regency_code=code[:5],
                                       programme="PKH")


# For the API scope matrix: how to make one object of each API model inside a given village.
# A new API endpoint whose model is missing here fails tests/api/test_scope_matrix.py on purpose.
OBJECT_IN_VILLAGE = {
    Region: lambda code: Region.objects.get(code=code),
    Family: _family_in,
    Member: lambda code: _family_in(code).members.get(),
    DesilRanking: lambda code: DesilRankingFactory(family=FamilyFactory(village=village(code))),
    VerificationRound: _round_in,
    RoundFamily: _entry_in,
}


def _submission_in(code: str):
    from central.models import Submission

    return Submission.objects.create(round=round_with_families(1, code=code))


def _submission_item_in(code: str):
    from central.models import SubmissionItem

    submission = _submission_in(code)
    entry = submission.round.entries.get()
    return SubmissionItem.objects.create(submission=submission, kind="result", ref=f"R{entry.pk}", entry=entry,
                                         family=entry.family, payload={"ref": f"R{entry.pk}"})


def _change_in(code: str):
    """A payment report waiting for a second account, prepared by Dinsos of the village's regency."""
    from distribution.models import PaymentPeriod, PendingChange

    preparer = UserFactory(role=Role.DINSOS, area_id=code[:5])
    return PendingChange.objects.create(kind=PendingChange.Kind.PAYMENT_REPORT, area_id=code[:5],
                                        period=PaymentPeriod.objects.first(), prepared_by=preparer,
                                        payload={"rows": []}, summary={"rows": 0})


def _register_workflow_objects():
    from central.models import CentralBatch, Submission, SubmissionItem
    from distribution.models import CitizenReport, Determination, Disbursement, PendingChange
    from groundcheck.models import Visit

    OBJECT_IN_VILLAGE.update({Visit: _visit_in, CitizenReport: _report_in, Determination: _determination_in,
                              Disbursement: _disbursement_in, CentralBatch: _batch_in,
                              Submission: _submission_in, SubmissionItem: _submission_item_in,
                              PendingChange: _change_in})


_register_workflow_objects()

# Endpoints that show only some rows of their model need an object of that kind (by router basename).
OBJECT_FOR_ENDPOINT = {"proposal": _proposal_in}


def object_for_endpoint(basename: str, model, code: str):
    return OBJECT_FOR_ENDPOINT.get(basename, OBJECT_IN_VILLAGE.get(model))(code)


class RoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VerificationRound

    village = factory.LazyFunction(village)
    batch_ref = factory.Sequence(lambda n: f"12.09-PKH-{n:04d}")
    programme = "PKH"


def round_with_families(n: int = 3, code: str = VILLAGE, **round_fields) -> VerificationRound:
    """A round of ``n`` families (each with a head) in village ``code``."""
    round_ = RoundFactory(village=village(code), **round_fields)
    for _ in range(n):
        family = FamilyFactory(village=round_.village)
        MemberFactory(family=family)
        RoundFamily.objects.create(round=round_, family=family)
    return round_


def submitted_round(code=VILLAGE, n=3):
    """A round of ``n`` families decided, ratified in a signed-off Musdesus and submitted to the regency."""
    from verification import services

    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=code)
    head = UserFactory(role=Role.VILLAGE_HEAD, area_id=code)
    round_ = round_with_families(n, code=code)
    entries = list(round_.entries.order_by("pk"))
    services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entries[0].pk, decision="not_eligible",
                          reason="well_off", expected_version=1)
    for entry in entries[1:]:
        services.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                              expected_version=1)
    services.musdesus_record(actor=operator, round_id=round_.pk, held_on=dt.date(2026, 11, 20), place="Balai",
                             chair="Kades", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 4}])
    services.musdesus_sign_off(actor=head, round_id=round_.pk)
    services.round_submit(actor=operator, round_id=round_.pk)
    return round_, entries


def client_for(user):
    """A browser test client signed in as ``user``."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def post_and_run_jobs(client, url: str, data: dict):
    """POST to a page that hands its work to a worker, do that work as the worker would (here, in this test's
    transaction) and return the page the user is sent to: the job's page with its outcome."""
    from django.test import TestCase

    from jobs.models import Job
    from jobs.services import job_run

    before = set(Job.objects.values_list("pk", flat=True))
    with TestCase.captureOnCommitCallbacks(execute=False) as sent:
        response = client.post(url, data)
    started = Job.objects.exclude(pk__in=before).filter(state=Job.State.QUEUED)
    assert len(sent) == started.count(), "every job started is sent to a worker once committed"
    for job in started:
        job_run(job.pk)
    return client.get(response.url) if response.status_code == 302 else response


def registered_reporter(village_code: str = VILLAGE, name: str = "Pelapor Warga") -> dict:
    """The identity fields of a citizen's report sent by someone registered in ``village_code`` (made once)."""
    member = Member.objects.filter(name=name, family__village_id=village_code).select_related("family").first() \
        or MemberFactory(family=FamilyFactory(village=village(village_code)), name=name,
                         birth_date=dt.date(1979, 3, 4))
    return {"reporter_name": member.name, "reporter_nik": member.nik, "reporter_kk": member.family.kk_number,
            "reporter_birth_date": member.birth_date.isoformat()}
