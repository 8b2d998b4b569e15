"""NIK, KK and region-code validation (DESIGN.md section 8), with messages that say what is wrong."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from registry.validators import parse_kk, parse_nik, validate_region_code

KNOWN = {"12.09.08", "12.72.01"}.__contains__
TODAY = dt.date(2026, 11, 22)


def message(exc: pytest.ExceptionInfo) -> str:
    return " ".join(exc.value.messages)


def test_valid_male_nik_gives_region_birth_date_and_sex():
    parts = parse_nik("1209081705800001", known_kecamatan=KNOWN, today=TODAY)
    assert parts.kecamatan_code == "12.09.08"
    assert parts.birth_date == dt.date(1980, 5, 17)
    assert parts.sex == "L"
    assert parts.serial == "0001"


def test_woman_nik_has_day_plus_forty():
    parts = parse_nik("1209085703920012", known_kecamatan=KNOWN, today=TODAY)
    assert parts.sex == "P"
    assert parts.birth_date == dt.date(1992, 3, 17)


def test_two_digit_year_after_this_year_is_last_century():
    assert parse_nik("1209080101300001", known_kecamatan=KNOWN, today=TODAY).birth_date.year == 1930
    assert parse_nik("1209080101150001", known_kecamatan=KNOWN, today=TODAY).birth_date.year == 2015


@pytest.mark.parametrize(
    ("nik", "code", "expected"),
    [
        ("120908170580001", "length", "15"),
        ("12090817058000011", "length", "17"),
        ("12090817058O0001", "not_digits", "angka"),
        ("9909011705800001", "unknown_region", "99.09.01"),
        ("1209083202800001", "bad_date", "320280"),
        ("1209087202800001", "bad_date", "720280"),
        ("1209083002810001", "bad_date", "300281"),
        ("1209081705800000", "bad_serial", "0000"),
    ],
)
def test_bad_nik_is_refused_with_a_message_naming_the_problem(nik, code, expected):
    with translation.override("id"), pytest.raises(ValidationError) as exc:
        parse_nik(nik, known_kecamatan=KNOWN, today=TODAY)
    assert exc.value.code == code
    assert expected in message(exc)


def test_nik_birth_date_in_the_future_is_refused():
    with pytest.raises(ValidationError) as exc:
        parse_nik("1209080112260001", known_kecamatan=KNOWN, today=TODAY)
    assert exc.value.code == "future_date"


def test_messages_are_in_bahasa_indonesia_by_default():
    with translation.override("id"), pytest.raises(ValidationError) as exc:
        parse_nik("12345", known_kecamatan=KNOWN, today=TODAY)
    assert message(exc) == "NIK harus tepat 16 digit; yang diisi 5 digit."


def test_valid_kk_number():
    code, issued, serial = parse_kk("1209081503150007", known_kecamatan=KNOWN, today=TODAY)
    assert (code, issued, serial) == ("12.09.08", dt.date(2015, 3, 15), "0007")


@pytest.mark.parametrize(
    ("kk", "code"),
    [
        ("120908150315000", "length"),
        ("1209084503150007", "bad_date"),  # KK issue dates have no +40
        ("1209081503150000", "bad_serial"),
        ("1100011503150007", "unknown_region"),
        ("1209081512260007", "future_date"),
    ],
)
def test_bad_kk_number_is_refused(kk, code):
    with pytest.raises(ValidationError) as exc:
        parse_kk(kk, known_kecamatan=KNOWN, today=TODAY)
    assert exc.value.code == code


@pytest.mark.django_db
def test_region_prefix_is_checked_against_loaded_regions_by_default():
    parse_nik("1209081705800001", today=TODAY)  # Asahan, kecamatan 01, loaded by conftest
    with pytest.raises(ValidationError) as exc:
        parse_nik("1299081705800001", today=TODAY)
    assert exc.value.code == "unknown_region"


@pytest.mark.parametrize("code", ["12", "12.09", "12.09.08", "12.09.01.2001"])
def test_region_code_shapes_accepted(code):
    validate_region_code(code)


@pytest.mark.parametrize("code", ["1", "12.9", "12.09.1", "12.09.01.201", "12-09", ""])
def test_region_code_shapes_refused(code):
    with pytest.raises(ValidationError):
        validate_region_code(code)
