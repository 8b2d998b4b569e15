"""Submission bodies of protocol v2 (and v1, normalised into v2): structure, and the centre's value checks.

Two kinds of problem, kept apart on purpose (PROTOCOL-v2.md):
- *structure* (a missing field, a wrong type, an unknown enum value, too many items) makes the whole page a
  400 ``invalid_submission``: ``parse_page`` raises ``InvalidSubmission`` naming the first problem;
- *content* the centre disagrees with (an unknown field name, an invalid NIK, a code it does not know) is
  stored and rejected item by item when the centre decides: ``check_value``, ``nik_problem`` and ``kk_problem``
  are the checks the decider uses.
Pure functions, no storage: the server validates with them before anything is written.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from registry.pmt import PMT_WEIGHTS

PROTOCOL = 2
MAX_PAGES = 10_000
MAX_ITEMS_PER_PAGE = 1000
REF_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")
VILLAGE_RE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_TEXT = 4000  # notes, findings, reasons: bounded so one item cannot cost the centre much
MAX_LOCATION_TEXT = 255
MAX_MEMBER_TEXT = 255
MAX_ID = 64

# (list name in the body, singular kind in outcomes), in the order items are listed and numbered in a page.
ITEM_LISTS = (("results", "result"), ("corrections", "correction"), ("member_changes", "member_change"),
              ("proposals", "proposal"), ("recommendations", "recommendation"), ("reports", "report"))
KINDS = tuple(kind for _name, kind in ITEM_LISTS)
# The order the centre decides the kinds of one submission in.
DECIDE_ORDER = ("result", "member_change", "correction", "proposal", "recommendation", "report")
HEADER_FIELDS = ("protocol", "batch_id", "round_ref", "village_code", "programme", "page_count")

DECISIONS = ("eligible", "not_eligible", "corrected")
RESULT_REASONS = ("", "well_off", "deceased", "moved", "not_found", "duplicate")
MEMBER_CHANGES = ("added", "deceased", "moved", "corrected")
RECOMMENDATIONS = ("continue", "stop", "reverify")
REPORT_KINDS = ("usulan", "sanggahan")
SEXES = ("L", "P")
LIFE_STATUSES = ("present", "deceased", "moved")

# The centre's codes are the PMT's: a coded attr whose value has no weight is a code it does not know.
CODED_ATTRS = {name: tuple(codes) for name, codes in PMT_WEIGHTS.items() if not name.startswith("has_")}
ASSET_ATTRS = tuple(name for name in PMT_WEIGHTS if name.startswith("has_"))
ATTR_FIELDS = (*CODED_ATTRS, "floor_area_m2", *ASSET_ATTRS)
LOCATION_TEXTS = ("dusun", "rt", "rw", "address")
COORDINATES = {"latitude": 90.0, "longitude": 180.0}
LOCATION_FIELDS = (*LOCATION_TEXTS, *COORDINATES)
MAX_FLOOR_AREA = 100_000

MEMBER_TEXTS = ("name", "birth_place", "relationship", "education", "occupation", "disability")
MEMBER_FIELDS = ("nik", "name", "sex", "birth_place", "birth_date", "relationship", "education", "occupation",
                 "disability", "life_status", "life_event_date")


class InvalidSubmission(ValueError):
    """The body's structure is wrong: the page is refused with 400 ``invalid_submission``."""


class UnsupportedProtocol(ValueError):
    """A ``protocol`` value other than 2 (absent means v1)."""


class InvalidValue(ValueError):
    """A value the centre does not accept for a field (content, rejected per item)."""


@dataclass
class Page:
    """One validated page, normalised: v1 bodies come out as v2 items with generated refs."""

    header: dict  # HEADER_FIELDS
    page: int
    items: list[tuple[str, dict]] = field(default_factory=list)  # (kind, item) in listing order


# Value checks (content) -----------------------------------------------------------------------------------

def parse_date(value) -> dt.date | None:
    """A ``YYYY-MM-DD`` string as a date, or None when it is not one."""
    if not isinstance(value, str) or not DATE_RE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _two_digit_year(yy: int, today: dt.date) -> int:
    # A two-digit year later than this year's can only be the previous century (as registry.validators).
    return 2000 + yy if 2000 + yy <= today.year else 1900 + yy


def _embedded_date(digits: str, *, woman_offset: bool, today: dt.date) -> dt.date | None:
    day, month, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    if woman_offset and day > 40:
        day -= 40
    try:
        value = dt.date(_two_digit_year(yy, today), month, day)
    except ValueError:
        return None
    return value if value <= today else None


def _sixteen_digits(value) -> bool:
    # Serial 0000 is never issued (registry.validators refuses it too).
    return isinstance(value, str) and len(value) == 16 and value.isascii() and value.isdigit() \
        and value[12:] != "0000"


def nik_problem(nik, today: dt.date | None = None) -> bool:
    """True when ``nik`` is not 16 ASCII digits with a real, past birth date (women: day + 40), serial not 0000."""
    if not _sixteen_digits(nik):
        return True
    return _embedded_date(nik, woman_offset=True, today=today or dt.date.today()) is None


def kk_problem(kk, today: dt.date | None = None) -> bool:
    """True when ``kk`` is not 16 ASCII digits with a real, past issue date, serial not 0000."""
    if not _sixteen_digits(kk):
        return True
    return _embedded_date(kk, woman_offset=False, today=today or dt.date.today()) is None


def check_value(field_name: str, value):
    """The stored form of ``value`` for a family field (attr or location); ``InvalidValue`` if refused.

    Callers check the field name is known first (``field_name in ATTR_FIELDS + LOCATION_FIELDS``).
    """
    if field_name in CODED_ATTRS:
        if isinstance(value, str) and value in CODED_ATTRS[field_name]:
            return value
    elif field_name == "floor_area_m2":
        if value is None or (type(value) is int and 0 <= value <= MAX_FLOOR_AREA):
            return value
    elif field_name in ASSET_ATTRS:
        if isinstance(value, bool):
            return value
    elif field_name in LOCATION_TEXTS:
        if isinstance(value, str) and len(value) <= MAX_LOCATION_TEXT:
            return value
    elif field_name in COORDINATES:
        if value is None:
            return None
        number = _number(value)
        if number is not None and abs(number) <= COORDINATES[field_name]:
            return number
    raise InvalidValue(field_name)


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value)):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def check_member_value(field_name: str, value):
    """The stored form of a member field's value (``corrected`` changes); ``InvalidValue`` if refused.

    ``nik`` only has to be a string here: whether it is a valid NIK is its own rejection (``invalid NIK``).
    """
    if field_name == "nik" and isinstance(value, str) and len(value) <= MAX_ID:
        return value
    # Name and relationship must say something; the other texts may be empty.
    if field_name in MEMBER_TEXTS and isinstance(value, str) and len(value) <= MAX_MEMBER_TEXT \
            and (value.strip() or field_name not in ("name", "relationship")):
        return value
    if field_name == "sex" and value in SEXES:
        return value
    if field_name == "life_status" and value in LIFE_STATUSES:
        return value
    if field_name == "birth_date" and parse_date(value):
        return value
    if field_name == "life_event_date" and (value is None or parse_date(value)):
        return value
    raise InvalidValue(field_name)


# Structure -------------------------------------------------------------------------------------------------

def _fail(message: str):
    raise InvalidSubmission(message)


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _text(item: dict, name: str, where: str, *, required: bool = True, empty: bool = True,
          limit: int = MAX_TEXT, default: str = "") -> str:
    if name not in item:
        if required:
            _fail(f"{_path(where, name)} is required")
        return default
    value = item[name]
    if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
        _fail(f"{_path(where, name)} must be a{'' if empty else ' non-empty'} string of at most {limit} "
              "characters")
    return value


def _enum(item: dict, name: str, where: str, options: tuple, *, default: str | None = None) -> str:
    if name not in item and default is not None:
        return default
    if item.get(name) not in options:
        _fail(f"{where}.{name} must be one of {', '.join(o or repr(o) for o in options)}")
    return item[name]


def _date(item: dict, name: str, where: str) -> str:
    if parse_date(item.get(name)) is None:
        _fail(f"{where}.{name} is required and must be a date YYYY-MM-DD")
    return item[name]


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    return value


def _member(value, where: str) -> dict:
    """A Member object (v1 schema plus optional life_event_date), reduced to its known fields."""
    member = _object(value, where)
    result = {"nik": _text(member, "nik", where, empty=False, limit=MAX_ID)}
    for name in MEMBER_TEXTS:
        result[name] = _text(member, name, where, empty=name not in ("name", "relationship"), limit=MAX_MEMBER_TEXT)
    result["sex"] = _enum(member, "sex", where, SEXES)
    result["birth_date"] = _date(member, "birth_date", where)
    result["life_status"] = _enum(member, "life_status", where, LIFE_STATUSES)
    event = member.get("life_event_date")
    if event is not None and parse_date(event) is None:
        _fail(f"{where}.life_event_date must be null or a date YYYY-MM-DD")
    result["life_event_date"] = event
    return {name: result[name] for name in MEMBER_FIELDS}


def _target(item: dict, where: str) -> dict:
    given = [name for name in ("central_id", "proposal_ref") if item.get(name) is not None]
    if len(given) != 1:
        _fail(f"{where} needs exactly one of central_id and proposal_ref")
    name = given[0]
    return {name: _text(item, name, where, empty=False, limit=MAX_ID)}


def _result(item: dict, where: str) -> dict:
    return {"central_id": _text(item, "central_id", where, empty=False, limit=MAX_ID),
            "decision": _enum(item, "decision", where, DECISIONS),
            "reason": _enum(item, "reason", where, RESULT_REASONS, default=""),
            "note": _text(item, "note", where, required=False)}


def _correction(item: dict, where: str) -> dict:
    if "after" not in item:
        _fail(f"{where}.after is required")
    return {"central_id": _text(item, "central_id", where, empty=False, limit=MAX_ID),
            "field": _text(item, "field", where, empty=False, limit=64),
            "before": item.get("before"), "after": item["after"]}


def _member_change(item: dict, where: str) -> dict:
    change = {"central_id": _text(item, "central_id", where, empty=False, limit=MAX_ID),
              "change": _enum(item, "change", where, MEMBER_CHANGES),
              "nik": _text(item, "nik", where, empty=False, limit=MAX_ID)}
    date = item.get("date")
    if date is not None and not isinstance(date, str):
        _fail(f"{where}.date must be a string YYYY-MM-DD")
    change["date"] = date  # whether it is a real date is content: rejected when the centre decides
    if change["change"] == "added":
        change["member"] = _member(item.get("member"), f"{where}.member")
        if change["member"]["nik"] != change["nik"]:
            _fail(f"{where}.member.nik must equal {where}.nik")
    elif change["change"] == "corrected":
        fields = _object(item.get("fields"), f"{where}.fields")
        if not fields:
            _fail(f"{where}.fields must name at least one field")
        change["fields"] = {}
        for name, values in fields.items():
            values = _object(values, f"{where}.fields.{name}")
            if "after" not in values:
                _fail(f"{where}.fields.{name}.after is required")
            change["fields"][name] = {"before": values.get("before"), "after": values["after"]}
    return change


def _proposal(item: dict, where: str) -> dict:
    proposal = {"kk_number": _text(item, "kk_number", where, limit=MAX_ID)}
    if item.get("village_code") is not None:
        if not isinstance(item["village_code"], str) or not VILLAGE_RE.match(item["village_code"]):
            _fail(f"{where}.village_code must be a village code PP.KK.CC.DDDD")
        proposal["village_code"] = item["village_code"]
    for name in LOCATION_TEXTS:
        proposal[name] = _text(item, name, where, limit=MAX_TEXT)
    for name in COORDINATES:
        proposal[name] = item.get(name)  # checked as content, like a correction of the same field
    proposal["attrs"] = _object(item.get("attrs"), f"{where}.attrs")
    members = item.get("members")
    if not isinstance(members, list):
        _fail(f"{where}.members is required and must be a list")
    proposal["members"] = [_member(member, f"{where}.members[{index}]") for index, member in enumerate(members)]
    return proposal


def _recommendation(item: dict, where: str) -> dict:
    return {**_target(item, where),
            "recommendation": _enum(item, "recommendation", where, RECOMMENDATIONS),
            "visited_on": _date(item, "visited_on", where),
            "findings": _text(item, "findings", where, required=False)}


def _report(item: dict, where: str) -> dict:
    return {**_target(item, where), "kind": _enum(item, "kind", where, REPORT_KINDS),
            "reason": _text(item, "reason", where), "resolution": _text(item, "resolution", where),
            "received_on": _date(item, "received_on", where)}


ITEM_PARSERS = {"result": _result, "correction": _correction, "member_change": _member_change,
                "proposal": _proposal, "recommendation": _recommendation, "report": _report}


def _page_number(body: dict, name: str) -> int:
    value = body.get(name, 1)
    if type(value) is not int or not 1 <= value <= MAX_PAGES:
        _fail(f"{name} must be a whole number from 1 to {MAX_PAGES}")
    return value


def parse_page(body: dict) -> Page:
    """Validate one POSTed body and normalise it to v2. Raises ``UnsupportedProtocol`` or ``InvalidSubmission``."""
    if "protocol" not in body:
        body = normalise_v1(body)
        version = 1
    elif type(body["protocol"]) is int and body["protocol"] == PROTOCOL:
        version = PROTOCOL
    else:
        raise UnsupportedProtocol(f"protocol {body['protocol']!r} is not supported; send 2 (or omit it for v1)")
    header = {"protocol": version}
    for name in ("batch_id", "programme"):
        header[name] = _text(body, name, "", empty=False, limit=100)
    header["round_ref"] = _text(body, "round_ref", "", limit=100)
    village = body.get("village_code")
    if not isinstance(village, str) or not VILLAGE_RE.match(village):
        _fail("village_code is required and must be a village code PP.KK.CC.DDDD")
    header["village_code"] = village
    page, page_count = _page_number(body, "page"), _page_number(body, "page_count")
    if page > page_count:
        _fail("page must not be greater than page_count")
    header["page_count"] = page_count

    lists = []
    for name, kind in ITEM_LISTS:
        values = body.get(name, [])
        if not isinstance(values, list):
            _fail(f"{name} must be a list")
        lists.append((name, kind, values))
    if sum(len(values) for _name, _kind, values in lists) > MAX_ITEMS_PER_PAGE:
        _fail(f"a page holds at most {MAX_ITEMS_PER_PAGE} items in all")
    items, refs = [], set()
    for name, kind, values in lists:
        for index, raw in enumerate(values):
            where = f"{name}[{index}]"
            raw = _object(raw, where)
            ref = raw.get("ref")
            if not isinstance(ref, str) or not REF_RE.match(ref):
                _fail(f"{where}.ref is required and must match {REF_RE.pattern}")
            if ref in refs:
                _fail(f"{where}.ref {ref} is used twice in this page")
            refs.add(ref)
            items.append((kind, {"ref": ref, **ITEM_PARSERS[kind](raw, where)}))
    return Page(header=header, page=page, items=items)


def normalise_v1(body: dict) -> dict:
    """A v1 body as the v2 body it means: refs r1, r2, ... for results, r<n>.<field> for their corrections
    (``before: null``), p1, ... for proposals. A v1 free-text reason that is not a v2 reason code moves to
    ``note``. Raises ``InvalidSubmission`` for what v1 already refused."""
    results = body.get("results")
    if not isinstance(results, list):
        _fail("results is required and must be a list")
    proposals = body.get("proposals", [])
    if not isinstance(proposals, list):
        _fail("proposals must be a list")
    v2 = {name: body.get(name) for name in ("batch_id", "round_ref", "village_code", "programme")}
    v2.update(page=1, page_count=1, results=[], corrections=[], proposals=[])
    for number, result in enumerate(results, start=1):
        where = f"results[{number - 1}]"
        result = _object(result, where)
        corrections = result.get("corrections") or {}
        if not isinstance(corrections, dict):
            _fail(f"{where}.corrections must be an object")
        reason, note = result.get("reason", ""), result.get("note", "")
        if isinstance(reason, str) and isinstance(note, str) and reason not in RESULT_REASONS:
            reason, note = "", "; ".join(part for part in (reason, note) if part)
        v2["results"].append({"ref": f"r{number}", "central_id": result.get("central_id"),
                              "decision": result.get("decision"), "reason": reason, "note": note})
        v2["corrections"] += [{"ref": f"r{number}.{name}", "central_id": result.get("central_id"), "field": name,
                               "before": None, "after": value} for name, value in corrections.items()]
    for number, proposal in enumerate(proposals, start=1):
        proposal = _object(proposal, f"proposals[{number - 1}]")
        v2["proposals"].append({"ref": f"p{number}", "kk_number": str(proposal.get("kk_number") or ""),
                                **{name: proposal.get(name, "") for name in LOCATION_TEXTS},
                                **{name: proposal[name] for name in ("village_code", *COORDINATES)
                                   if name in proposal},
                                "attrs": proposal.get("attrs"), "members": proposal.get("members")})
    return {**v2, "protocol": PROTOCOL}
