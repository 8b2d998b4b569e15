"""State changes of verification rounds: each transition is a named verb that checks the actor's role,
the actor's area and the round's state, then records who, when and why in ``RoundEvent``.

The village's work inside a round (decisions, corrections, members, proposals, the Musdesus and its
sign-off) goes through the verbs below as well, so the browser and the API share every rule: only the
village's own operator (or head, for the sign-off), only while the round may be edited, never over
someone else's newer change (optimistic locking on ``RoundFamily.version``).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_fsm import can_proceed
from simple_history.utils import bulk_update_with_history

from accounts.models import Role
from accounts.scope import user_covers_code
from dtsen_portal.errors import Conflict, InvalidState, NotAllowed, NotInScope
from dtsen_portal.formats import number
from registry import duplicates
from registry.models import Family, Member, Region

from . import hooks
from .models import (
    APPROVED_STATES,
    EDITABLE_STATES,
    FieldCorrection,
    Musdesus,
    MusdesusAttendee,
    RoundEvent,
    RoundFamily,
    RoundState,
    UpdatePeriod,
    VerificationRound,
    VillageLetterhead,
)

VILLAGE_ROLES = (Role.VILLAGE_OPERATOR,)
REGENCY_ROLES = (Role.DINSOS, Role.ADMIN)
SYSTEM = None  # the central sync acts without a user


def _check_actor(actor, round_: VerificationRound, roles) -> None:
    if actor is SYSTEM:
        if roles is not SYSTEM:
            raise NotAllowed(_("This step needs a signed-in user."))
        return
    if not user_covers_code(actor, round_.village_id):
        raise NotInScope(_("Not found."))
    if roles is SYSTEM or not (actor.is_administrator or actor.role in roles):
        raise NotAllowed(_("Your role may not do this."))


@transaction.atomic
def _round_transition(*, round_id: int, verb: str, actor, roles, note: str = "") -> VerificationRound:
    # Lock the row so two users (or a user and the sync) cannot move the same round at once.
    round_ = VerificationRound.objects.select_for_update().get(pk=round_id)
    _check_actor(actor, round_, roles)
    method = getattr(round_, verb)
    if not can_proceed(method):
        raise InvalidState(
            _("The round is %(state)s; this step is not possible now.")
            % {"state": round_.get_state_display()}
        )
    from_state = round_.state
    method()
    round_.state_changed_at = timezone.now()
    round_.save(update_fields=["state", "state_changed_at", "return_note"])
    RoundEvent.objects.create(round=round_, from_state=from_state, to_state=round_.state,
                              actor=actor, note=note)
    return round_


def round_start(*, round_id: int, actor) -> VerificationRound:
    """The village begins (or, after a return, resumes) verifying its round."""
    return _round_transition(round_id=round_id, verb="start", actor=actor, roles=VILLAGE_ROLES)


def round_return(*, round_id: int, actor, note: str, family_notes: dict[int, str] | None = None
                 ) -> VerificationRound:
    """Dinsos sends a submitted round back to the village with notes, optionally per family (entry id)."""
    if not note.strip():
        raise InvalidState(_("Say why the round is returned, so the village knows what to fix."))
    with transaction.atomic():
        round_ = _round_transition(round_id=round_id, verb="return_to_village", actor=actor,
                                   roles=REGENCY_ROLES, note=note)
        _back_to_village(round_, note, family_notes)
    return round_


def _back_to_village(round_: VerificationRound, note: str, family_notes: dict[int, str] | None) -> None:
    VerificationRound.objects.filter(pk=round_.pk).update(return_note=note)
    round_.return_note = note
    RoundFamily.objects.filter(round=round_).exclude(return_note="").update(return_note="")
    # The village changes things and ratifies them again: the earlier sign-off no longer holds.
    Musdesus.objects.filter(round=round_).update(signed_off_by=None, signed_off_at=None)
    for entry_id, family_note in (family_notes or {}).items():
        RoundFamily.objects.filter(round=round_, pk=entry_id).update(return_note=family_note.strip())


def round_recheck(*, round_id: int, actor, note: str, family_notes: dict[int, str] | None = None
                  ) -> VerificationRound:
    """Dinsos re-checks an approved round before its period is final (the seeds: the regency may re-check
    before the publication is final). The round goes back to the village; its next approval sends the new
    state to the centre as a new submission, which replaces the earlier one there."""
    if not note.strip():
        raise InvalidState(_("Say what must be checked again, so the village knows what to fix."))
    with transaction.atomic():
        round_ = VerificationRound.objects.select_for_update(of=("self",)).select_related("period").get(pk=round_id)
        _check_actor(actor, round_, REGENCY_ROLES)
        if round_.period and round_.period.is_final(timezone.localdate()):
            raise InvalidState(_("The period %(period)s is final since the publication of %(date)s; the round "
                                 "can no longer be re-checked.") % {
                "period": round_.period, "date": date_format(round_.period.publication_on, "j F Y")})
        round_ = _round_transition(round_id=round_id, verb="reopen_for_recheck", actor=actor,
                                   roles=REGENCY_ROLES, note=note)
        _back_to_village(round_, note, family_notes)
    return round_


def round_can_recheck(round_: VerificationRound, today=None) -> bool:
    """Whether the round is approved and its period not yet final (what the review page offers)."""
    today = today or timezone.localdate()
    return round_.state in APPROVED_STATES and not (round_.period and round_.period.is_final(today))


@dataclass
class Approval:
    """What an approval did: the rounds approved, and whether their push was queued right away.

    ``delivery_queued`` is False when the queue (broker) could not take the push: the approval and what it sends
    are committed all the same, and the next scheduled push delivers them."""

    round_ids: list[int]
    delivery_queued: bool = True


def _approve(round_ids: list[int], actor, note: str) -> Approval:
    approval = Approval(round_ids=sorted(round_ids))
    with transaction.atomic():
        for round_id in approval.round_ids:
            _round_transition(round_id=round_id, verb="approve", actor=actor, roles=REGENCY_ROLES, note=note)
        # Recorded in this transaction (the outbox), so a broker outage after the commit loses nothing.
        hooks.rounds_approving(approval.round_ids)

        def queue_push():
            approval.delivery_queued = hooks.rounds_approved(approval.round_ids)

        transaction.on_commit(queue_push)
    return approval


def round_approve(*, round_id: int, actor, note: str = "") -> Approval:
    """Dinsos approves a submitted round; what it sends is recorded with the approval, the push is queued once
    the approval is committed."""
    return _approve([round_id], actor, note)


def rounds_approve(*, round_ids: list[int], actor, note: str = "") -> Approval:
    """Approve several submitted rounds at once: all of them, or none if one cannot be approved."""
    return _approve(round_ids, actor, note)


def round_mark_sent(*, round_id: int, note: str = "") -> VerificationRound:
    """The centre received the round's results (receipt recorded by the central sync)."""
    return _round_transition(round_id=round_id, verb="mark_sent", actor=SYSTEM, roles=SYSTEM, note=note)


def round_acknowledge(*, round_id: int, note: str = "") -> VerificationRound:
    """The centre accepted the round's results."""
    return _round_transition(round_id=round_id, verb="acknowledge", actor=SYSTEM, roles=SYSTEM, note=note)


# -- the village's work inside a round --------------------------------------------------------------------
HEAD_ROLES = (Role.VILLAGE_HEAD,)
# Register fields an operator may correct during verval (identity fields such as the KK number are not).
FAMILY_CORRECTABLE = (
    "address", "dusun", "rt", "rw", "latitude", "longitude", "house_ownership", "floor_area_m2", "floor_type",
    "wall_type", "roof_type", "water_source", "lighting", "cooking_fuel", "toilet", *Family.ASSET_FIELDS,
)
# A proposal is typed in the village office, not at the house: no GPS position.
PROPOSAL_FAMILY_FIELDS = ("kk_number", *(f for f in FAMILY_CORRECTABLE if f not in ("latitude", "longitude")))
MEMBER_CORRECTABLE = ("nik", "name", "sex", "birth_place", "birth_date", "relationship", "education",
                      "occupation", "disability", "life_status", "life_event_date")


def _editable_round(round_id: int, actor, roles=VILLAGE_ROLES) -> VerificationRound:
    """Lock the round, check the actor may work on it and that it may still be changed."""
    round_ = VerificationRound.objects.select_for_update().get(pk=round_id)
    _check_actor(actor, round_, roles)
    if round_.state not in EDITABLE_STATES:
        raise InvalidState(_("The round is %(state)s; it can no longer be changed.")
                           % {"state": round_.get_state_display()})
    if round_.state in (RoundState.OPEN, RoundState.RETURNED):
        # The first piece of work (or the first after a return) starts the round; recorded like any move.
        from_state = round_.state
        round_.start()
        round_.state_changed_at = timezone.now()
        round_.save(update_fields=["state", "state_changed_at"])
        RoundEvent.objects.create(round=round_, from_state=from_state, to_state=round_.state, actor=actor)
    return round_


def _locked_entry(round_: VerificationRound, entry_id: int, expected_version: int | None) -> RoundFamily:
    try:
        entry = RoundFamily.objects.select_for_update().select_related("family").get(pk=entry_id, round=round_)
    except RoundFamily.DoesNotExist:
        raise NotInScope(_("Not found.")) from None
    if expected_version is not None and entry.version != expected_version:
        who = entry.decided_by.get_full_name() or entry.decided_by.username if entry.decided_by else _("someone")
        raise Conflict(_("Family %(kk)s was changed by %(who)s while you were editing. Your input is kept below; "
                         "check the current data and save again.") % {"kk": entry.family.kk_number, "who": who})
    return entry


def _touch(entry: RoundFamily, actor) -> None:
    entry.version += 1
    entry.decided_by, entry.decided_at = actor, timezone.now()
    entry._history_user = actor  # the API and workers have no request for simple-history to read


@transaction.atomic
def entry_decide(*, actor, round_id: int, entry_id: int, decision: str, reason: str = "", note: str = "",
                 expected_version: int | None, evidence=None) -> RoundFamily:
    """Record the village's decision on one family: eligible, or not eligible with a reason."""
    round_ = _editable_round(round_id, actor)
    entry = _locked_entry(round_, entry_id, expected_version)
    _check_decision(decision, reason)
    entry.decision, entry.reason, entry.note = decision, reason if decision == RoundFamily.Decision.NOT_ELIGIBLE \
        else "", note.strip()
    if evidence is not None:
        entry.evidence = evidence
    _touch(entry, actor)
    entry.save()
    return entry


def _check_decision(decision: str, reason: str) -> None:
    if decision not in RoundFamily.Decision.values:
        raise InvalidState(_("Choose a decision."), field_errors={"decision": [_("Choose a decision.")]})
    if decision == RoundFamily.Decision.NOT_ELIGIBLE and reason not in RoundFamily.Reason.values:
        raise InvalidState(_("Say why the family is not eligible."),
                           field_errors={"reason": [_("Say why the family is not eligible.")]})


@transaction.atomic
def entries_decide_bulk(*, actor, round_id: int, versions: dict[int, int], decision: str, reason: str = "",
                        note: str = "") -> int:
    """The same decision for several families at once; all or nothing if any of them changed meanwhile."""
    round_ = _editable_round(round_id, actor)
    _check_decision(decision, reason)
    entries = list(RoundFamily.objects.select_for_update().select_related("family")
                   .filter(round=round_, pk__in=list(versions)))
    if len(entries) != len(versions):
        raise NotInScope(_("Not found."))
    stale = [e.family.kk_number for e in entries if e.version != versions[e.pk]]
    if stale:
        raise Conflict(_("These families were changed by someone else meanwhile: %(kk)s. Nothing was saved; "
                         "reload the list and try again.") % {"kk": ", ".join(sorted(stale))})
    now = timezone.now()
    for entry in entries:
        entry.decision = decision
        entry.reason = reason if decision == RoundFamily.Decision.NOT_ELIGIBLE else ""
        if note.strip():
            entry.note = note.strip()
        entry.version += 1
        entry.decided_by, entry.decided_at = actor, now
    # History rows written with the entries, in bulk: the earlier decision stays on record.
    bulk_update_with_history(entries, RoundFamily, ["decision", "reason", "note", "version", "decided_by",
                                                    "decided_at"], batch_size=2000, default_user=actor)
    return len(entries)


def _display(obj, field: str) -> str:
    value = getattr(obj, field)
    model_field = obj._meta.get_field(field)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return "" if value is None else str(value)


def coded(value):
    """A register value as JSON, the way the centre's protocol carries it (dates ISO, decimals as text)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _apply_changes(obj, changes: dict, allowed: tuple[str, ...]) -> list[tuple]:
    """Set the changed fields on ``obj``; returns (field, label, before, after, coded before, coded after)
    for each real change."""
    done = []
    for field, value in changes.items():
        if field not in allowed or getattr(obj, field) == value:
            continue
        before, raw_before = _display(obj, field), coded(getattr(obj, field))
        setattr(obj, field, value)
        done.append((field, str(obj._meta.get_field(field).verbose_name), before, _display(obj, field), raw_before,
                     coded(getattr(obj, field))))
    return done


def _record(entry, actor, changes, member=None) -> None:
    label = f"{member.name} ({member.nik})" if member else ""
    FieldCorrection.objects.bulk_create(
        FieldCorrection(entry=entry, member=member, member_label=label, field=f, field_label=lbl, old_value=old,
                        new_value=new, old_raw=raw_old, new_raw=raw_new, corrected_by=actor)
        for f, lbl, old, new, raw_old, raw_new in changes)
    if changes and entry.decision in ("", RoundFamily.Decision.ELIGIBLE):
        entry.decision = RoundFamily.Decision.CORRECTED


@transaction.atomic
def family_correct(*, actor, round_id: int, entry_id: int, changes: dict, expected_version: int | None) -> int:
    """Correct the family's register data; each changed field is kept as before -> after."""
    round_ = _editable_round(round_id, actor)
    entry = _locked_entry(round_, entry_id, expected_version)
    family = entry.family
    done = _apply_changes(family, changes, FAMILY_CORRECTABLE)
    if done:
        family.full_clean()
        family.version += 1
        family._history_user = actor
        family._change_reason = _("verval %(batch)s") % {"batch": round_.batch_ref}
        family.save()
        _record(entry, actor, done)
        _touch(entry, actor)
        entry.save()
    return len(done)


@transaction.atomic
def member_update(*, actor, round_id: int, entry_id: int, member_id: int, changes: dict,
                  expected_version: int | None) -> int:
    """Correct a member (a NIK, a name) or mark them deceased or moved."""
    round_ = _editable_round(round_id, actor)
    entry = _locked_entry(round_, entry_id, expected_version)
    try:
        member = Member.objects.select_for_update().get(pk=member_id, family_id=entry.family_id)
    except Member.DoesNotExist:
        raise NotInScope(_("Not found.")) from None
    if changes.get("life_status", member.life_status) == Member.LifeStatus.PRESENT:
        changes = {**changes, "life_event_date": None}  # back home or alive after all: no date of leaving
    done = _apply_changes(member, changes, MEMBER_CORRECTABLE)
    if done:
        if {"life_status", "life_event_date"} & {change[0] for change in done}:
            _check_life_event(member)
        member.full_clean()
        member._history_user = actor
        member._change_reason = _("verval %(batch)s") % {"batch": round_.batch_ref}
        member.save()
        _record(entry, actor, done, member=member)
        _touch(entry, actor)
        entry.save()
    return len(done)


@transaction.atomic
def member_add(*, actor, round_id: int, entry_id: int, data: dict, expected_version: int | None) -> Member:
    """Add a person to the family card (a newborn, someone who moved in)."""
    round_ = _editable_round(round_id, actor)
    entry = _locked_entry(round_, entry_id, expected_version)
    member = Member(family=entry.family, **{k: v for k, v in data.items() if k in MEMBER_CORRECTABLE})
    _check_life_event(member)
    member.full_clean()
    member._history_user = actor
    member._change_reason = _("verval %(batch)s") % {"batch": round_.batch_ref}
    member.save()
    _record(entry, actor, [(FieldCorrection.ADDED, str(_("member added")), "", f"{member.name} ({member.nik})",
                            None, {f: coded(getattr(member, f)) for f in MEMBER_CORRECTABLE})], member=member)
    _touch(entry, actor)
    entry.save()
    return member


def _check_life_event(member: Member) -> None:
    """A death or a move is reported to the centre with its date: required, not in the future, not before birth."""
    date = member.life_event_date
    if member.life_status == Member.LifeStatus.PRESENT:
        member.life_event_date = None
        return
    message = ""
    if date is None:
        message = _("Enter the date of death or of moving out.")
    elif date > timezone.localdate():
        message = _("The date of death or of moving out cannot be in the future.")
    elif member.birth_date and date < member.birth_date:
        message = _("The date of death or of moving out cannot be before the date of birth.")
    if message:
        raise InvalidState(message, field_errors={"life_event_date": [message]})


def proposal_duplicates(*, kk_number: str, members: list[dict], actor) -> list[dict]:
    """Families already in the register that may be the proposed one: same KK, same NIK, a member with
    the same name and birth date, or one the duplicate finder (``registry.duplicates``) finds alike as names
    and dates are written (Muhammad/M., titles, spellings, a missing marga; day and month swapped, a year
    off): kind ``similar``, shown side by side with what was typed. Read across all areas on purpose: a
    duplicate elsewhere matters.

    Only a candidate inside the actor's area is named (KK, village, a link). Candidates outside it are
    merged into one notice per body that can resolve them (the regency's Dinsos, or the centre for another
    regency), worded from what the operator typed: never their KK, NIK, id, names or village (UU PDP).
    The same queries run whether or not anything is found, so the answer's time tells nothing more.
    """
    niks = {m["nik"]: (m.get("name") or "").strip() for m in members if m.get("nik")}
    people = {(m["name"].strip().upper(), m["birth_date"]): m["name"].strip()
              for m in members if m.get("name") and m.get("birth_date")}
    same_person = Q(nik__in=list(niks))
    for name, born in people:
        same_person |= Q(name__iexact=name, birth_date=born)
    # (family, kind, why as the area's staff may read it, why worded only from what the operator typed[, the
    # finder's match and the typed (name, birth date) it is like])
    matches = [(fam, "kk", _("same KK number"), _("same KK number"))
               for fam in Family.objects.filter(kk_number=kk_number).select_related("village")]
    for m in Member.objects.filter(same_person).select_related("family__village"):
        if m.nik in niks:
            matches.append((m.family, "nik", _("same NIK %(nik)s") % {"nik": m.nik},
                            _("same NIK as %(name)s in this usulan") % {"name": niks[m.nik]}))
        typed = people.get((m.name.upper(), m.birth_date))
        if typed is None and m.nik not in niks:
            # Matched by name, but the database's upper case differs from Python's for a few letters (ß).
            typed = next((t for (_name, born), t in people.items() if born == m.birth_date), "")
        if typed is not None:
            matches.append((m.family, "name_birth", _("same name and birth date: %(name)s") % {"name": m.name},
                            _("same name and birth date as %(name)s in this usulan") % {"name": typed}))
    # Names as people write them (registry.duplicates): a similar name and a birth date within the tolerance.
    # One query whatever it finds; the exact name-and-date matches above are not repeated.
    typed_people = [(m["name"].strip(), m["birth_date"]) for m in members if m.get("name") and m.get("birth_date")]
    for match in duplicates.person_candidates(typed_people):
        typed_name, typed_born = typed_people[match.typed]
        if match.name.upper() == typed_name.upper() and str(match.birth_date) == str(typed_born):
            continue
        why_outside = _("a similar name and birth date as %(name)s in this usulan") % {"name": typed_name}
        matches.append((_Located(match.family_id, match.kk_number, match.village_id, match.village_name),
                        "similar", None, why_outside, match, (typed_name, typed_born)))
    regency = _regency_of(actor)
    found: dict = {}
    for family, kind, why_inside, why_outside, *person in matches:
        if user_covers_code(actor, family.village_id):
            entry = found.setdefault(family.pk, {
                "in_area": True, "family_id": family.pk, "kk_number": family.kk_number,
                "village": family.village.name, "resolver": "", "kinds": set(), "why": [], "side_by_side": []})
            if person:  # a similar person: shown beside what the operator typed, with the finder's reasons
                match, (typed_name, typed_born) = person
                entry["side_by_side"].append({
                    "typed_name": typed_name, "typed_birth_date": typed_born, "name": match.name,
                    "birth_date": match.birth_date, "likelihood": match.likelihood,
                    "reasons": [str(duplicates.REASONS[r]) for r in match.reasons]})
                why = _("a similar name and birth date: %(name)s") % {"name": match.name}
            else:
                why = why_inside
        else:
            why = why_outside
            if regency and regency.contains(family.village_id):
                resolver = _("Dinas Sosial %(regency)s") % {"regency": regency.name}
            else:
                resolver = _("the centre (Pusdatin Kemensos), as the family is registered in another regency")
            entry = found.setdefault(("outside", resolver), {
                "in_area": False, "family_id": None, "kk_number": None, "village": None, "resolver": resolver,
                "kinds": set(), "why": [], "side_by_side": []})
        entry["kinds"].add(kind)
        if str(why) not in entry["why"]:
            entry["why"].append(str(why))
    # Inside the area first, in the order found; the notices about elsewhere after them.
    return sorted(found.values(), key=lambda c: not c["in_area"])


@dataclass(frozen=True)
class _Village:
    name: str


class _Located:
    """A family the finder read (id, KK, village) without loading the model: the check's queries stay the same
    whatever it finds."""

    def __init__(self, pk: int, kk_number: str, village_id: str, village_name: str):
        self.pk, self.kk_number, self.village_id, self.village = pk, kk_number, village_id, _Village(village_name)


def _regency_of(actor) -> Region | None:
    """The actor's regency, whose Dinsos resolves duplicates among its villages (a query on every call,
    found or not, so the check costs the same either way)."""
    code = (getattr(actor, "area_id", "") or "")[:5]
    return Region.objects.filter(code=code, level=Region.Level.REGENCY).first() if len(code) == 5 else None


class PossibleDuplicates(InvalidState):
    """The proposal looks like families already in the register; the user must look and confirm."""

    code = "possible_duplicates"

    def __init__(self, candidates: list[dict], *, blocking: bool):
        # The message never says where a registered KK or NIK is: outside the area that is not the user's to know.
        message = _("This family may already be in the register.") if not blocking else \
            _("This KK number or NIK is already in the register; the proposal cannot be saved.")
        super().__init__(message, details={"blocking": blocking, "candidates": [
            {**c, "kinds": sorted(c["kinds"])} for c in candidates]})
        self.candidates, self.blocking = candidates, blocking


@transaction.atomic
def proposal_create(*, actor, round_id: int, family_data: dict, members: list[dict],
                    confirm_duplicates: bool = False) -> RoundFamily:
    """Add a family that is missing from the data awal (usulan baru) to the register and the round."""
    round_ = _editable_round(round_id, actor)
    if not members or not any(m.get("relationship") == Member.Relationship.HEAD for m in members):
        raise InvalidState(_("A proposal needs its members, one of them the head of the family."))
    candidates = proposal_duplicates(kk_number=family_data.get("kk_number", ""), members=members, actor=actor)
    # The same KK or NIK cannot be stored twice; a same-name-and-birth-date match only needs a look.
    blocking = any(c["kinds"] & {"kk", "nik"} for c in candidates)
    if candidates and (blocking or not confirm_duplicates):
        raise PossibleDuplicates(candidates, blocking=blocking)
    family = Family(origin=Family.Origin.PROPOSAL, village=round_.village,
                    **{k: v for k, v in family_data.items() if k in (*FAMILY_CORRECTABLE, "kk_number")})
    family.full_clean()
    family._history_user = actor
    family._change_reason = _("proposal in verval %(batch)s") % {"batch": round_.batch_ref}
    family.save()
    for data in members:
        member = Member(family=family, **{k: v for k, v in data.items() if k in MEMBER_CORRECTABLE})
        _check_life_event(member)
        member.full_clean()
        member._history_user = actor
        member.save()
    return RoundFamily.objects.create(round=round_, family=family, is_proposal=True,
                                      decision=RoundFamily.Decision.ELIGIBLE, decided_by=actor,
                                      decided_at=timezone.now(), note=str(_("Proposal (usulan baru)")))


def round_progress(round_: VerificationRound) -> dict:
    """Total and decided families of a round, and per decision (read from the round's tally)."""
    from . import tallies

    return tallies.round_progress(round_)


@transaction.atomic
def musdesus_record(*, actor, round_id: int, held_on, place: str, chair: str, notes: str,
                    attendees: list[dict]) -> Musdesus:
    """Record the Musdesus that ratifies the round; every family must have its decision first."""
    round_ = VerificationRound.objects.select_for_update().get(pk=round_id)
    _check_actor(actor, round_, VILLAGE_ROLES)
    existing = Musdesus.objects.filter(round=round_).first()
    if round_.state == RoundState.MUSDESUS_HELD and existing and existing.signed_off_at:
        raise InvalidState(_("The berita acara is already signed; reopen the Musdesus to change it."))
    if round_.state not in (RoundState.IN_VERIFICATION, RoundState.MUSDESUS_HELD):
        raise InvalidState(_("The round is %(state)s; a Musdesus cannot be recorded now.")
                           % {"state": round_.get_state_display()})
    progress = round_progress(round_)
    if progress["decided"] < progress["total"]:
        raise InvalidState(_("%(n)s families have no decision yet; decide on every family before the Musdesus.")
                           % {"n": number(progress["total"] - progress["decided"])})
    if not attendees:
        raise InvalidState(_("List who attended the Musdesus."))
    musdesus = existing or Musdesus(round=round_, recorded_by=actor, document_number=_document_number(round_))
    musdesus.held_on, musdesus.place, musdesus.chair, musdesus.notes = held_on, place, chair, notes
    musdesus.recorded_by = actor
    musdesus.save()
    musdesus.attendees.all().delete()
    MusdesusAttendee.objects.bulk_create(MusdesusAttendee(musdesus=musdesus, **a) for a in attendees)
    if round_.state == RoundState.IN_VERIFICATION:
        _round_transition(round_id=round_.pk, verb="hold_musdesus", actor=actor, roles=VILLAGE_ROLES,
                          note=_("Musdesus on %(date)s") % {"date": held_on.strftime("%d-%m-%Y")})
    return musdesus


def _document_number(round_: VerificationRound) -> str:
    year = timezone.localdate().year
    same = Musdesus.objects.filter(round__village=round_.village, document_number__contains=f"-{year}-").count()
    return f"BA-{round_.village_id}-{year}-{same + 1:04d}"


@transaction.atomic
def musdesus_reopen(*, actor, round_id: int) -> VerificationRound:
    """Back to verification before submission (a decision must change); the sign-off no longer holds."""
    round_ = _round_transition(round_id=round_id, verb="reopen_musdesus", actor=actor, roles=VILLAGE_ROLES)
    Musdesus.objects.filter(round=round_).update(signed_off_by=None, signed_off_at=None)
    return round_


@transaction.atomic
def musdesus_sign_off(*, actor, round_id: int) -> Musdesus:
    """The village head approves the berita acara with their own account."""
    round_ = VerificationRound.objects.select_for_update().get(pk=round_id)
    _check_actor(actor, round_, HEAD_ROLES)
    if round_.state != RoundState.MUSDESUS_HELD:
        raise InvalidState(_("There is no recorded Musdesus to sign."))
    musdesus = Musdesus.objects.select_for_update().get(round=round_)
    if musdesus.signed_off_at:
        raise InvalidState(_("The berita acara is already signed."))
    musdesus.signed_off_by, musdesus.signed_off_at = actor, timezone.now()
    musdesus.save(update_fields=["signed_off_by", "signed_off_at"])
    RoundEvent.objects.create(round=round_, from_state=round_.state, to_state=round_.state, actor=actor,
                              note=_("Berita acara %(number)s signed off") % {"number": musdesus.document_number})
    return musdesus


@transaction.atomic
def musdesus_upload_scan(*, actor, round_id: int, scan) -> Musdesus:
    """Keep the scan of the signed paper berita acara."""
    round_ = VerificationRound.objects.select_for_update().get(pk=round_id)
    _check_actor(actor, round_, VILLAGE_ROLES + HEAD_ROLES)
    if round_.state not in (RoundState.MUSDESUS_HELD,):
        raise InvalidState(_("The round is %(state)s; the scan cannot be changed now.")
                           % {"state": round_.get_state_display()})
    musdesus = Musdesus.objects.get(round=round_)
    musdesus.signed_scan = scan
    musdesus.save(update_fields=["signed_scan"])
    return musdesus


_NOT_GIVEN = object()


@transaction.atomic
def letterhead_save(*, actor, village_code: str, address: str, phone: str, email: str, logo=_NOT_GIVEN,
                    ) -> VillageLetterhead:
    """The village operator or head sets the village's letterhead for its berita acara.

    ``logo`` is a rebuilt image (``dtsen_portal.uploads.clean_logo``), ``None`` to remove the logo, or left
    out to keep it. The earlier state stays in the history (and its logo file on disk): minutes signed
    before the change are still printed with it.
    """
    if actor is SYSTEM or not user_covers_code(actor, village_code):
        raise NotInScope(_("Not found."))
    # The village's row is locked, so two people saving the first letterhead at once cannot both create it.
    village = Region.objects.select_for_update().filter(code=village_code, level=Region.Level.VILLAGE).first()
    if village is None:
        raise NotInScope(_("Not found."))
    if not (actor.is_administrator or actor.role in VILLAGE_ROLES + HEAD_ROLES):
        raise NotAllowed(_("Your role may not do this."))
    letterhead = VillageLetterhead.objects.filter(village=village).first() or VillageLetterhead(village=village)
    letterhead.address, letterhead.phone, letterhead.email = address.strip(), phone.strip(), email.strip()
    if logo is not _NOT_GIVEN:
        letterhead.logo = logo or ""
    letterhead.updated_by = actor
    letterhead._history_user = actor
    letterhead.save()
    return letterhead


def round_submit(*, actor, round_id: int) -> VerificationRound:
    """The village submits its round to the regency: only with a Musdesus signed off by the village head."""
    with transaction.atomic():
        round_ = VerificationRound.objects.select_for_update().get(pk=round_id)
        _check_actor(actor, round_, VILLAGE_ROLES)
        musdesus = Musdesus.objects.filter(round=round_).first()
        if round_.state != RoundState.MUSDESUS_HELD or musdesus is None:
            raise InvalidState(_("Record the Musdesus before submitting the round."))
        if not musdesus.signed_off_at:
            raise InvalidState(_("The village head must sign off the berita acara before submission."))
        progress = round_progress(round_)
        if progress["decided"] < progress["total"]:
            raise InvalidState(_("%(n)s families have no decision yet.")
                               % {"n": number(progress["total"] - progress["decided"])})
        return _round_transition(round_id=round_id, verb="submit", actor=actor, roles=VILLAGE_ROLES,
                                 note=_("Berita acara %(number)s") % {"number": musdesus.document_number})


# -- the update cycle --------------------------------------------------------------------------------------
CYCLE_RE = r"^(\d{4})-Q([1-4])$"
# Dinsos needs time between the villages' deadline and the publication that counts their results.
APPROVAL_DAYS = 14


def cycle_of(day) -> str:
    """The quarterly update cycle a date falls in, e.g. 2026-Q4."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _first_20th_on_or_after(day):
    twentieth = day.replace(day=20)
    if twentieth >= day:
        return twentieth
    return (twentieth.replace(day=1) + dt.timedelta(days=32)).replace(day=20)


def period_ensure(*, code: str, deadline=None) -> UpdatePeriod:
    """The update period of a cycle code (``YYYY-Qn``), created with the calendar the seeds describe when it
    is new: the quarter, the villages' deadline (the batch's, else the 15th of the quarter's second month)
    and the first publication on the 20th that leaves Dinsos two weeks to approve."""
    match = re.match(CYCLE_RE, code or "")
    if not match:
        raise InvalidState(_("Unknown update cycle %(code)s (expected e.g. 2026-Q4).") % {"code": code})
    existing = UpdatePeriod.objects.filter(code=code).first()
    if existing:
        return existing
    year, quarter = int(match.group(1)), int(match.group(2))
    starts = dt.date(year, 3 * quarter - 2, 1)
    ends = (dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1))
    verval_deadline = deadline or dt.date(year, 3 * quarter - 1, 15)
    publication = _first_20th_on_or_after(max(verval_deadline + dt.timedelta(days=APPROVAL_DAYS),
                                              dt.date(year, 3 * quarter, 20)))
    months = [dt.date(year, m, 1) for m in (3 * quarter - 2, 3 * quarter)]
    name = f"{code} ({date_format(months[0], 'F')}–{date_format(months[1], 'F Y')})"
    period, _created = UpdatePeriod.objects.get_or_create(code=code, defaults={
        "name": name, "starts_on": starts, "ends_on": ends, "verval_deadline": verval_deadline,
        "publication_on": publication})
    return period


def rounds_set_calendar(*, batch_ref: str, cycle: str, deadline) -> int:
    """Give the rounds of a batch their update period and deadline (the batch's, else the period's)."""
    period = period_ensure(code=cycle, deadline=deadline)
    return VerificationRound.objects.filter(batch_ref=batch_ref).update(
        period=period, deadline=deadline or period.verval_deadline)


# -- demo data ---------------------------------------------------------------------------------------------
def demo_batch_ref(regency: str) -> str:
    return f"DEMO-{regency}-PKH"


@transaction.atomic
def demo_rounds_remove(*, regency: str) -> int:
    """Delete the demo rounds of a regency (with their decisions and Musdesus) before its demo data is reseeded."""
    from django.db.models import ProtectedError

    rounds = VerificationRound.objects.filter(batch_ref=demo_batch_ref(regency))
    try:
        deleted, _by_model = rounds.delete()
    except ProtectedError:
        raise InvalidState(_("A demo round of %(code)s was already sent to the centre; reseed another regency.")
                           % {"code": regency}) from None
    return deleted


@transaction.atomic
def demo_rounds_create(*, regency: str, deadline) -> int:
    """One open round per village holding the regency's demo families, so the verval journey can be tried."""
    ref = demo_batch_ref(regency)
    families = list(Family.objects.filter(origin=Family.Origin.DEMO, village__pk__startswith=regency + ".")
                    .values_list("pk", "village_id"))
    villages = sorted({v for _pk, v in families})
    VerificationRound.objects.bulk_create(
        VerificationRound(village_id=v, batch_ref=ref, programme="PKH", deadline=deadline) for v in villages)
    rounds = dict(VerificationRound.objects.filter(batch_ref=ref).values_list("village_id", "pk"))
    RoundFamily.objects.bulk_create((RoundFamily(round_id=rounds[v], family_id=pk) for pk, v in families),
                                    batch_size=5000)
    return len(villages)


@transaction.atomic
def entries_import_decisions(*, actor, round_id: int, rows: list[dict]) -> int:
    """Apply decisions read from a spreadsheet ({kk_number, decision, reason, note, version}); all or nothing.

    A row carrying the version it was exported at is refused when the family was changed since (between the
    check and the confirmation, say), so a stale sheet never overwrites a newer decision."""
    round_ = _editable_round(round_id, actor)
    entries = {e.family.kk_number: e for e in RoundFamily.objects.select_for_update().select_related("family")
               .filter(round=round_, family__kk_number__in=[r["kk_number"] for r in rows])}
    now = timezone.now()
    for row in rows:
        entry = entries.get(row["kk_number"])
        if entry is None:
            raise NotInScope(_("Not found."))
        _check_decision(row["decision"], row.get("reason", ""))
        if row.get("version") is not None and row["version"] < entry.version:
            raise Conflict(_("KK number %(kk)s was changed in the portal after this sheet was exported (sheet "
                             "version %(sheet)d, now %(current)d); export the sheet again so the newer decision "
                             "is not overwritten.")
                           % {"kk": row["kk_number"], "sheet": row["version"], "current": entry.version})
        entry.decision = row["decision"]
        entry.reason = row.get("reason", "") if row["decision"] == RoundFamily.Decision.NOT_ELIGIBLE else ""
        if row.get("note"):
            entry.note = row["note"]
        entry.version += 1
        entry.decided_by, entry.decided_at = actor, now
    bulk_update_with_history(list(entries.values()), RoundFamily, ["decision", "reason", "note", "version",
                             "decided_by", "decided_at"], batch_size=2000, default_user=actor)
    return len(entries)
