"""How much of Cek Bansos one client and one village may use, counted in the cache.

Searches are counted three ways. A browser is known by the signed, random id of its Cek Bansos cookie (issued
by the page; it names no one): each browser has a small free allowance. Searches that come without that cookie
share one such allowance per address, so a script that throws its cookies away gains nothing. Everyone behind
one address (an IPv4 address or an IPv6 /64, from the deployment's trusted proxies only:
``dtsen_portal.client_address``) shares a much larger allowance, so a school or a village office on one
connection is not stopped because its 21st pupil searches, while a script rotating cookies is still held to it.
Each village has a free allowance too. Beyond any of them a request needs a challenge drawn here
(``distribution.challenge``): a person goes on, a script has to read pictures. Ceilings per browser and per
address hold even with solved challenges.

Reports are counted per address (a few free, then a challenge for each). Spam cannot use up a village's
reports: a report counts against the village only once it passed the client's limit and, when asked, the
challenge; then the village asks the next reporters for a challenge instead of refusing them.

Every cache call goes through ``_cache``: with the cache down the page says Cek Bansos is unavailable for a
while (it fails closed) instead of answering 500 or searching without limits.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.utils.translation import gettext as _

from dtsen_portal.client_address import rate_key
from dtsen_portal.errors import ServiceError

from .challenge import CHALLENGE_SECONDS, challenge_check

logger = logging.getLogger(__name__)
T = TypeVar("T")
HOUR = 3600

SEARCH_FREE_PER_CLIENT = 20  # searches an hour by one browser (or by all cookieless requests of an address)
SEARCH_MAX_PER_CLIENT = 300  # searches an hour by one browser, challenges or not
SEARCH_FREE_PER_IP = 120  # searches an hour by everyone behind one address (a class of 40 pupils, 3 names each)
SEARCH_MAX_PER_IP = 1000  # searches an hour by everyone behind one address, challenges or not
SEARCH_FREE_PER_VILLAGE = 100  # searches of one village an hour, from anywhere, before everyone gets a challenge
SEARCHES_PER_CHALLENGE = 10
REPORT_FREE_PER_IP = 3
REPORT_MAX_PER_IP = 30  # a village office sending its residents' reports
REPORT_FREE_PER_VILLAGE = 20
REPORTS_PER_CHALLENGE = 1


class TooManyRequests(ServiceError):
    code = "too_many_requests"


class ChallengeRequired(ServiceError):
    code = "challenge_required"


class LimitsUnavailable(ServiceError):
    code = "unavailable"


def _cache(operation: Callable[[], T]) -> T:
    """Run one cache operation; a cache that is down refuses the request with a message, never a 500."""
    try:
        return operation()
    except Exception as exc:  # any backend's error: redis ConnectionError, TimeoutError, a memcached failure
        logger.warning("Cek Bansos limits unavailable (%s)", exc.__class__.__name__)
        raise LimitsUnavailable(_("Cek Bansos is temporarily unavailable; please try again in a few minutes.")) \
            from None


def _count(key: str, seconds: int = HOUR) -> int:
    def increment() -> int:
        cache.add(key, 0, seconds)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, seconds)
            return 1

    return _cache(increment)


def _used(key: str) -> int:
    return _cache(lambda: cache.get(key, 0))


def _solve(*, challenge: str, answer: str, ip: str, uses: int, asked: str) -> None:
    if not challenge:
        raise ChallengeRequired(asked)
    nonce = challenge_check(token=challenge, answer=answer, ip=ip)
    if nonce is None:
        raise ChallengeRequired(_("The answer does not match the picture, or the picture is more than 10 minutes "
                                  "old. Try this new one."))
    if _count(f"cekbansos:challenge:{nonce}", CHALLENGE_SECONDS) > uses:
        raise ChallengeRequired(_("That picture has been used; type the letters in this new one."))


def search_allow(*, ip: str, village_code: str, client: str = "", returning: bool = False, challenge: str = "",
                 answer: str = "") -> None:
    """Count one search; raise if the browser or the address is over its ceiling or must solve a challenge.

    ``client`` is the browser's id; ``returning`` says the request brought it (a cookie the portal signed). A
    first request (no cookie yet) counts against the address's cookieless allowance, and against its new id.
    """
    address = rate_key(ip)
    at_address = _count(f"cekbansos:search:ip:{address}")
    by_client = _count(f"cekbansos:search:client:{client}") if client else 0
    own = by_client if returning and client else _count(f"cekbansos:search:anonymous:{address}")
    if at_address > SEARCH_MAX_PER_IP or by_client > SEARCH_MAX_PER_CLIENT or own > SEARCH_MAX_PER_CLIENT:
        raise TooManyRequests(_("Too many requests from here; please try again in an hour."))
    village_key = f"cekbansos:search:village:{village_code}"
    if own > SEARCH_FREE_PER_CLIENT or at_address > SEARCH_FREE_PER_IP \
            or _used(village_key) >= SEARCH_FREE_PER_VILLAGE:
        _solve(challenge=challenge, answer=answer, ip=ip, uses=SEARCHES_PER_CHALLENGE, asked=_(
            "Many searches come from your connection or for this village. Type the letters and digits in the "
            "picture to go on."))
    _count(village_key)


def report_allow(*, ip: str, village_code: str, challenge: str = "", answer: str = "") -> None:
    """Count one report against the client (not yet the village); raise as ``search_allow`` does."""
    used = _count(f"cekbansos:report:ip:{rate_key(ip)}")
    if used > REPORT_MAX_PER_IP:
        raise TooManyRequests(_("Too many requests from here; please try again in an hour."))
    if used > REPORT_FREE_PER_IP or _used(f"cekbansos:report:village:{village_code}") >= REPORT_FREE_PER_VILLAGE:
        _solve(challenge=challenge, answer=answer, ip=ip, uses=REPORTS_PER_CHALLENGE, asked=_(
            "Many reports came from your connection or for this village in the last hour. Type the letters and "
            "digits in the picture to send yours."))


def report_counted(*, village_code: str) -> None:
    """A report was stored: only now does it count against the village."""
    _count(f"cekbansos:report:village:{village_code}")
