"""How the portal writes numbers for people: one place, used by messages, templates and exports.

Counts are grouped the Indonesian way (1.200 keluarga; 1,200 in English), scores keep their decimals with a
decimal comma, and GPS coordinates are written with a decimal point and the hemisphere (LU/LS, BT/BB), as
maps and GPS devices show them, so "2,951200, 99,552100" can no longer read as four numbers."""
import datetime as dt

from django.utils import formats
from django.utils.translation import pgettext


def number(value) -> str:
    """A count, grouped in the active language: 1.200 (id), 1,200 (en)."""
    return formats.number_format(int(value or 0), force_grouping=True)


def score(value, places: int = 2) -> str:
    """A welfare score with at most ``places`` decimals, decimal comma in Indonesian: 17,4."""
    if value is None or value == "":
        return ""
    text = formats.number_format(round(float(value), places), decimal_pos=places, force_grouping=True)
    separator = formats.get_format("DECIMAL_SEPARATOR")
    return text.rstrip("0").rstrip(separator) if separator in text else text


def month(period: str) -> str:
    """A period "2025-10" as people say it, in the active language: "Oktober 2025" (as given if it is no month)."""
    try:
        year, number_ = (int(part) for part in period.split("-"))
        return formats.date_format(dt.date(year, number_, 1), "F Y")
    except (TypeError, ValueError):
        return period


def coordinates(latitude, longitude) -> str:
    """2.951200° LU, 99.552100° BT: six decimals (about 10 cm), the hemisphere instead of a minus sign."""
    if latitude is None or longitude is None or latitude == "" or longitude == "":
        return ""
    lat, lon = float(latitude), float(longitude)
    north, south = pgettext("latitude", "N"), pgettext("latitude", "S")
    east, west = pgettext("longitude", "E"), pgettext("longitude", "W")
    return (f"{abs(lat):.6f}° {north if lat >= 0 else south}, "
            f"{abs(lon):.6f}° {east if lon >= 0 else west}")
