"""A village's whole verval through the services, with one of everything the centre must learn.

Shared by the submission tests, the end-to-end test over the mock and a real worker, and the browser journey:
each of them checks that exactly this reaches the centre.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.utils import timezone

from accounts.models import Role
from distribution import services as reports
from distribution.models import CitizenReport
from groundcheck.models import Assignment, Visit
from registry.models import Member
from verification import services as verval
from verification.models import RoundFamily, VerificationRound

from ..factories import UserFactory, kk_for, nik_for

DEATH = dt.date(2026, 10, 12)


@dataclass
class Expected:
    """What the round must tell the centre, by kind, and the families each part is about."""

    results: int = 0
    corrections: int = 0
    member_changes: int = 0
    proposals: int = 0
    recommendations: int = 0
    reports: int = 0
    eligible: RoundFamily | None = None
    corrected: RoundFamily | None = None
    bereaved: RoundFamily | None = None
    renamed: RoundFamily | None = None
    well_off: RoundFamily | None = None
    proposal: RoundFamily | None = None
    proposal_kk: str = ""
    people: dict = field(default_factory=dict)

    def by_kind(self) -> dict[str, int]:
        return {"result": self.results, "correction": self.corrections, "member_change": self.member_changes,
                "proposal": self.proposals, "recommendation": self.recommendations, "report": self.reports}


def users_for(village_code: str, suffix: str = "") -> dict:
    return {
        "operator": UserFactory(username=f"operator{suffix}", role=Role.VILLAGE_OPERATOR, area_id=village_code),
        "head": UserFactory(username=f"kades{suffix}", role=Role.VILLAGE_HEAD, area_id=village_code),
        "dinsos": UserFactory(username=f"dinsos{suffix}", role=Role.DINSOS, area_id=village_code[:5]),
        "facilitator": UserFactory(username=f"pendamping{suffix}", role=Role.FACILITATOR, area_id=village_code[:8]),
    }


def _fresh(entry: RoundFamily) -> RoundFamily:
    return RoundFamily.objects.select_related("family").get(pk=entry.pk)


def verify_everything(round_: VerificationRound, people: dict, *, approve: bool = True) -> Expected:
    """Verify every family of ``round_`` (at least five, with DTSEN ids and a head each) so the round carries:
    3 field corrections, a head who died (with the date), a member's NIK and name corrected, a newborn,
    an usulan of two people, a ground-check recommending to stop, and two accepted citizens' reports."""
    operator = people["operator"]
    entries = list(round_.entries.select_related("family").order_by("family__central_id", "pk"))
    assert len(entries) >= 5 and all(e.family.central_id for e in entries)
    expect = Expected(people=people)
    expect.eligible, expect.corrected, expect.bereaved, expect.renamed, expect.well_off = entries[:5]

    # A house better than the register says: three corrections (the floor, the wall, a refrigerator).
    family = expect.corrected.family
    changes = {"floor_type": "ceramic" if family.floor_type != "ceramic" else "marble",
               "wall_type": "brick" if family.wall_type != "brick" else "plastered_bamboo",
               "has_refrigerator": not family.has_refrigerator}
    assert verval.family_correct(actor=operator, round_id=round_.pk, entry_id=expect.corrected.pk,
                                 changes=changes, expected_version=_fresh(expect.corrected).version) == 3
    expect.corrections = 3

    # The head of a family died: a member change with the date.
    dead = expect.bereaved.family.members.get(relationship=Member.Relationship.HEAD)
    verval.member_update(actor=operator, round_id=round_.pk, entry_id=expect.bereaved.pk, member_id=dead.pk,
                         changes={"life_status": "deceased", "life_event_date": DEATH},
                         expected_version=_fresh(expect.bereaved).version)
    # A member's NIK and name were wrong (one change of two fields), and a baby was born.
    person = expect.renamed.family.members.order_by("pk").first()
    new_nik = nik_for(round_.village_id, person.birth_date, person.sex)
    verval.member_update(actor=operator, round_id=round_.pk, entry_id=expect.renamed.pk, member_id=person.pk,
                         changes={"nik": new_nik, "name": person.name + " Saragih"},
                         expected_version=_fresh(expect.renamed).version)
    born = dt.date(2026, 9, 1)
    verval.member_add(actor=operator, round_id=round_.pk, entry_id=expect.renamed.pk,
                      expected_version=_fresh(expect.renamed).version, data={
                          "nik": nik_for(round_.village_id, born, "P"), "name": "Bayi Nauli", "sex": "P",
                          "birth_date": born, "relationship": "child", "education": "", "occupation": "",
                          "disability": "none", "life_status": "present", "birth_place": "Kisaran"})
    expect.member_changes = 3
    expect.people["renamed_nik"] = (person.nik, new_nik)

    # Decisions for every family (the corrected and bereaved ones keep theirs: corrected / eligible).
    for entry in entries:
        entry = _fresh(entry)
        if entry.pk == expect.well_off.pk:
            verval.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="not_eligible",
                                reason="well_off", note="Rumah permanen, punya mobil", expected_version=entry.version)
        elif not entry.decision:
            verval.entry_decide(actor=operator, round_id=round_.pk, entry_id=entry.pk, decision="eligible",
                                expected_version=entry.version)
    expect.results = len(entries)

    # An usulan: a family missing from the data awal.
    born_head, born_child = dt.date(1988, 2, 14), dt.date(2015, 6, 3)
    expect.proposal_kk = kk_for(round_.village_id, dt.date(2021, 3, 9))
    expect.proposal = verval.proposal_create(
        actor=operator, round_id=round_.pk,
        family_data={"kk_number": expect.proposal_kk, "address": "Lorong Baru 3", "dusun": "Dusun III", "rt": "003",
                     "rw": "001", "floor_type": "earth", "wall_type": "bamboo", "roof_type": "thatch",
                     "water_source": "unprotected_well", "lighting": "non_pln", "cooking_fuel": "firewood",
                     "toilet": "none", "house_ownership": "rent_free", "floor_area_m2": 24},
        members=[{"nik": nik_for(round_.village_id, born_head), "name": "Sahat Manurung", "sex": "L",
                  "birth_date": born_head, "relationship": "head", "education": "sd", "occupation": "Buruh tani",
                  "disability": "none", "life_status": "present", "birth_place": "Kisaran"},
                 {"nik": nik_for(round_.village_id, born_child, "P"), "name": "Rina Manurung", "sex": "P",
                  "birth_date": born_child, "relationship": "child", "education": "sd", "occupation": "",
                  "disability": "none", "life_status": "present", "birth_place": "Kisaran"}])
    expect.proposals = 1

    # A facilitator visited the first family and recommends stopping its assistance.
    assignment = Assignment.objects.create(family=expect.eligible.family, facilitator=people["facilitator"],
                                           entry=expect.eligible)
    Visit.objects.create(client_uuid=uuid.uuid4(), assignment=assignment, family=expect.eligible.family,
                         facilitator=people["facilitator"], entry=expect.eligible, recommendation="stop",
                         visited_at=timezone.make_aware(dt.datetime(2026, 11, 4, 10, 30)),
                         findings="Sudah bekerja tetap di pabrik")
    expect.recommendations = 1

    # Citizens: an objection about the well-off family, and an usulan the village entered as the new family.
    objection = CitizenReport.objects.create(
        reference=f"CB-{uuid.uuid4().hex[:8].upper()}", kind="sanggahan", village_id=round_.village_id,
        family=expect.well_off.family, subject_name="Pak Mampu", reason="Punya mobil dan toko",
        reporter_name="Tetangga")
    reports.report_resolve(actor=operator, report_id=objection.pk, accept=True, resolution="Dicek, benar mampu")
    usulan = CitizenReport.objects.create(
        reference=f"CB-{uuid.uuid4().hex[:8].upper()}", kind="usulan", village_id=round_.village_id,
        subject_name="Sahat Manurung", reason="Belum pernah terdata", reporter_name="Ketua RT")
    reports.report_resolve(actor=operator, report_id=usulan.pk, accept=True, resolution="")
    reports.report_link_proposal(actor=operator, report_id=usulan.pk, entry_id=expect.proposal.pk)
    expect.reports = 2
    expect.people["reports"] = (objection.reference, usulan.reference)

    ratify_and_submit(round_, people, held_on=dt.date(2026, 11, 20), approve=approve)
    return expect


def ratify_and_submit(round_: VerificationRound, people: dict, *, held_on: dt.date, approve: bool = True) -> None:
    """The Musdesus ratifies the round, the head signs the berita acara, the village submits, Dinsos approves."""
    verval.musdesus_record(actor=people["operator"], round_id=round_.pk, held_on=held_on, place="Balai Desa",
                           chair="Kepala Desa", notes="", attendees=[{"name": "BPD", "role": "BPD", "count": 5}])
    verval.musdesus_sign_off(actor=people["head"], round_id=round_.pk)
    verval.round_submit(actor=people["operator"], round_id=round_.pk)
    if approve:
        verval.round_approve(actor=people["dinsos"], round_id=round_.pk, note="Sesuai berita acara")
