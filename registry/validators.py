"""Validators for Indonesian identifiers (DESIGN.md section 8).

NIK: ``PPKKCC DDMMYY SSSS`` - issuing kecamatan, birth date (day + 40 for women), serial.
KK number: ``PPKKCC DDMMYY SSSS`` - issuing kecamatan, date of issue, serial from 0001.
Region code: ``PP``, ``PP.KK``, ``PP.KK.CC`` or ``PP.KK.CC.DDDD``.

Every message names what is wrong (length, unknown region prefix, impossible date) in the user's
language. Region checks take an optional ``known_kecamatan`` predicate so bulk imports can check
against a set in memory instead of querying once per row.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

# re.ASCII: without it \d also matches Arabic-Indic and other digits, which int() then reads as numbers.
REGION_CODE_RE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$", re.ASCII)
WOMAN_DAY_OFFSET = 40

KecamatanCheck = Callable[[str], bool]


@dataclass(frozen=True)
class NikParts:
    kecamatan_code: str
    birth_date: dt.date
    sex: str  # "L" or "P", as in Indonesian documents
    serial: str


def kecamatan_code_from_digits(digits: str) -> str:
    """``120901`` -> ``12.09.01``."""
    return f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}"


def _default_known_kecamatan(code: str) -> bool:
    from registry.models import Region

    return Region.objects.filter(code=code, level=Region.Level.DISTRICT).exists()


def is_ascii_digits(value) -> bool:
    """True for a non-empty string of 0-9 only.

    ``str.isdigit`` also accepts superscripts ("²", which ``int`` refuses: a crash) and Arabic-Indic digits
    ("١٢", which ``int`` reads: a second registration of an existing NIK), so identifiers use this instead.
    """
    return isinstance(value, str) and value.isascii() and value.isdigit()


def ascii_int(value, *, max_digits: int = 18) -> int | None:
    """An id typed in a form or URL parameter as an int, or None when it is not 0-9 only or too long for
    a bigint column (a longer number would make the database refuse the query: an HTTP 500)."""
    return int(value) if is_ascii_digits(value) and len(value) <= max_digits else None


def _check_digits(value: str, label: str) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if not is_ascii_digits(value):
        raise ValidationError(
            _("%(label)s must contain only the digits 0-9."), code="not_digits", params={"label": label}
        )
    if len(value) != 16:
        raise ValidationError(
            _("%(label)s must be exactly 16 digits; %(count)d were given."),
            code="length",
            params={"label": label, "count": len(value)},
        )
    return value


def _two_digit_year(yy: int, today: dt.date) -> int:
    # A two-digit year later than this year's can only be the previous century.
    return 2000 + yy if 2000 + yy <= today.year else 1900 + yy


def _check_region(digits: str, label: str, known_kecamatan: KecamatanCheck | None) -> str:
    code = kecamatan_code_from_digits(digits)
    check = known_kecamatan or _default_known_kecamatan
    if not check(code):
        raise ValidationError(
            _("%(label)s starts with region code %(code)s, which is not a known kecamatan."),
            code="unknown_region",
            params={"label": label, "code": code},
        )
    return code


def parse_nik(
    value: str, *, known_kecamatan: KecamatanCheck | None = None, today: dt.date | None = None
) -> NikParts:
    """Validate a NIK and return its parts; raise ValidationError saying what is wrong."""
    label = "NIK"
    digits = _check_digits(value, label)
    today = today or dt.date.today()
    code = _check_region(digits, label, known_kecamatan)
    day, month, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    sex = "P" if day > WOMAN_DAY_OFFSET else "L"
    real_day = day - WOMAN_DAY_OFFSET if sex == "P" else day
    try:
        birth_date = dt.date(_two_digit_year(yy, today), month, real_day)
    except ValueError:
        raise ValidationError(
            _("%(label)s holds birth date %(value)s, which is not a real date "
              "(day 01-31 for men, 41-71 for women)."),
            code="bad_date",
            params={"label": label, "value": digits[6:12]},
        ) from None
    if birth_date > today:
        raise ValidationError(
            _("%(label)s holds birth date %(value)s, which is in the future."),
            code="future_date",
            params={"label": label, "value": birth_date.strftime("%d-%m-%Y")},
        )
    serial = digits[12:16]
    if serial == "0000":
        raise ValidationError(
            _("%(label)s serial number (last 4 digits) cannot be 0000."),
            code="bad_serial",
            params={"label": label},
        )
    return NikParts(kecamatan_code=code, birth_date=birth_date, sex=sex, serial=serial)


def parse_kk(
    value: str, *, known_kecamatan: KecamatanCheck | None = None, today: dt.date | None = None
) -> tuple[str, dt.date, str]:
    """Validate a KK number; return (kecamatan code, issue date, serial)."""
    label = _("KK number")
    digits = _check_digits(value, label)
    today = today or dt.date.today()
    code = _check_region(digits, label, known_kecamatan)
    day, month, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    try:
        issued = dt.date(_two_digit_year(yy, today), month, day)
    except ValueError:
        raise ValidationError(
            _("%(label)s holds issue date %(value)s, which is not a real date."),
            code="bad_date",
            params={"label": label, "value": digits[6:12]},
        ) from None
    if issued > today:
        raise ValidationError(
            _("%(label)s holds issue date %(value)s, which is in the future."),
            code="future_date",
            params={"label": label, "value": issued.strftime("%d-%m-%Y")},
        )
    serial = digits[12:16]
    if serial == "0000":
        raise ValidationError(
            _("%(label)s serial number (last 4 digits) must start from 0001."),
            code="bad_serial",
            params={"label": label},
        )
    return code, issued, serial


def validate_nik(value: str) -> None:
    """Model/form field validator for NIK."""
    parse_nik(value)


def validate_kk_number(value: str) -> None:
    """Model/form field validator for KK numbers."""
    parse_kk(value)


def validate_not_future(value: dt.date) -> None:
    """Model/form field validator for birth dates: nobody in the register is born after today."""
    if value and value > dt.date.today():
        raise ValidationError(_("The date %(value)s is in the future."), code="future_date",
                              params={"value": value.strftime("%d-%m-%Y")})


def validate_region_code(value: str) -> None:
    """Shape check for a Kemendagri region code (existence is checked by the caller)."""
    if not REGION_CODE_RE.match(value or ""):
        raise ValidationError(
            _("Region code %(value)s is not valid: use PP, PP.KK, PP.KK.CC or PP.KK.CC.DDDD."),
            code="bad_region_code",
            params={"value": value},
        )


# Indonesia's bounding box, for coordinates typed or captured in the field (Decimal, as the fields are).
LATITUDE_VALIDATORS = [MinValueValidator(Decimal("-11.5")), MaxValueValidator(Decimal("6.5"))]
LONGITUDE_VALIDATORS = [MinValueValidator(Decimal("94.5")), MaxValueValidator(Decimal("141.5"))]
