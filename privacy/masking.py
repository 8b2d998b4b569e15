"""Who may read a person's whole NIK, and the masked form everyone else reads (UU PDP: data minimisation).

The rule lives here and nowhere else:

- Lists, search results, exports and API lists show many people at once: the NIK is always masked there
  (``1209********0001``: the regency's four digits and the serial; the kecamatan and the birth date hidden).
- One family or person opened on purpose (the family page, the verval page of one family, a clash with the
  centre, the API's family detail) shows the whole NIK to the roles whose work is that NIK: the village
  operator who verifies and corrects the family, the regency's Dinsos staff who review the village's work and
  resolve clashes, and administrators. Each such view is recorded (``privacy.services.record_access``).
- The village head signs the Musdesus minutes and the PKH facilitator finds a family by its name, KK and
  address: neither needs the whole number, so they read it masked everywhere.
"""
from __future__ import annotations

import re
from enum import StrEnum


class Context(StrEnum):
    LIST = "list"  # lists, exports and API lists: many people at once
    DETAIL = "detail"  # one family or person, opened on purpose


# Values of accounts.models.Role, written out: settings.LOGGING imports this module (through the log filter)
# before the apps, and so their models, are loaded.
FULL_NIK_ROLES = frozenset({"village_operator", "dinsos", "admin"})

# Sixteen digits not part of a longer number: a NIK or a KK number (any script's digits, as the validators
# refuse those but a log line may still carry what someone typed).
SIXTEEN_DIGITS = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")


def mask_nik(value) -> str:
    """``1209081505800001`` → ``1209********0001``; a shorter or odd value keeps no more than its edges."""
    if value is None:
        return ""
    text = str(value)
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def mask_numbers_in_text(text: str) -> str:
    """Every 16-digit number (NIK or KK) inside ``text`` masked; the rest unchanged."""
    return SIXTEEN_DIGITS.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), text)


def can_see_full_nik(user, context: Context | str) -> bool:
    """Whether ``user`` reads the whole NIK in ``context`` (see the module's docstring)."""
    if context != Context.DETAIL or not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_administrator or user.role in FULL_NIK_ROLES


def nik_for(user, value, context: Context | str) -> str:
    """The NIK as ``user`` may read it in ``context``."""
    return (value or "") if can_see_full_nik(user, context) else mask_nik(value)


def mask_nik_fields(data):
    """A JSON-like value with every ``nik`` key's value masked (a submission item's payload, say)."""
    if isinstance(data, dict):
        return {key: mask_nik(value) if key == "nik" and isinstance(value, str) else mask_nik_fields(value)
                for key, value in data.items()}
    if isinstance(data, list):
        return [mask_nik_fields(value) for value in data]
    return data
