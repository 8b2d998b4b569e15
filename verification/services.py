"""State changes of verification rounds: each transition is a named verb that checks the actor's role,
the actor's area and the round's state, then records who, when and why in ``RoundEvent``.
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.models import Role
from accounts.scope import user_covers_code
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope

from .models import RoundEvent, VerificationRound

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


def round_return(*, round_id: int, actor, note: str) -> VerificationRound:
    """Dinsos sends a submitted round back to the village with notes."""
    if not note.strip():
        raise InvalidState(_("Say why the round is returned, so the village knows what to fix."))
    with transaction.atomic():
        round_ = _round_transition(round_id=round_id, verb="return_to_village", actor=actor,
                                   roles=REGENCY_ROLES, note=note)
        VerificationRound.objects.filter(pk=round_.pk).update(return_note=note)
        round_.return_note = note
    return round_


def round_approve(*, round_id: int, actor, note: str = "") -> VerificationRound:
    """Dinsos approves a submitted round; the push to the centre follows after commit."""
    return _round_transition(round_id=round_id, verb="approve", actor=actor, roles=REGENCY_ROLES, note=note)


def round_mark_sent(*, round_id: int, note: str = "") -> VerificationRound:
    """The centre received the round's results (receipt recorded by the central sync)."""
    return _round_transition(round_id=round_id, verb="mark_sent", actor=SYSTEM, roles=SYSTEM, note=note)


def round_acknowledge(*, round_id: int, note: str = "") -> VerificationRound:
    """The centre accepted the round's results."""
    return _round_transition(round_id=round_id, verb="acknowledge", actor=SYSTEM, roles=SYSTEM, note=note)
