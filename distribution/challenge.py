"""A challenge drawn here with Pillow, for a client or a village over its free use of Cek Bansos.

No outside service and nothing stored until it is used: the token is signed with the portal's secret and holds
a random nonce and a tag of the client's address; the letters in the picture are an HMAC of the nonce, so only
the server can know them. A token is good for ten minutes, from the address it was issued to; how many
requests one solved picture opens is counted in the cache by ``distribution.limits``.
"""
from __future__ import annotations

import io
import secrets

from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from PIL import Image, ImageDraw, ImageFont

from dtsen_portal.client_address import rate_key

CHALLENGE_SECONDS = 600
CHALLENGE_LENGTH = 5
# One of each pair that looks alike on a small screen is left out (0/O/Q, 1/I/L, 2/Z, 5/S, 6/G, 8/B).
ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
MAX_TOKEN_LENGTH = 200
_SALT = "distribution.challenge"
_random = secrets.SystemRandom()


def _address_tag(ip: str) -> str:
    return salted_hmac(f"{_SALT}.address", rate_key(ip)).hexdigest()[:16]


def _letters(nonce: str) -> str:
    digest = salted_hmac(f"{_SALT}.answer", nonce).digest()
    return "".join(ALPHABET[byte % len(ALPHABET)] for byte in digest[:CHALLENGE_LENGTH])


def _payload(token: str) -> dict | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        payload = signing.loads(token, salt=_SALT, max_age=CHALLENGE_SECONDS)
    except signing.BadSignature:  # forged, damaged or expired
        return None
    if not (isinstance(payload, dict) and isinstance(payload.get("n"), str) and isinstance(payload.get("a"), str)):
        return None
    return payload


def challenge_issue(*, ip: str) -> str:
    """A new challenge for the client at ``ip``: the token the form carries and the picture is drawn from."""
    return signing.dumps({"n": secrets.token_urlsafe(9), "a": _address_tag(ip)}, salt=_SALT)


def challenge_answer(token: str) -> str:
    """The letters the picture of ``token`` shows ("" for a forged or expired token)."""
    payload = _payload(token)
    return _letters(payload["n"]) if payload else ""


def challenge_check(*, token: str, answer: str, ip: str) -> str | None:
    """The nonce of a valid, unexpired challenge issued to this client and answered right; None otherwise.
    Case and spaces in the answer do not matter."""
    payload = _payload(token)
    if payload is None or not constant_time_compare(payload["a"], _address_tag(ip)):
        return None
    typed = "".join((answer or "").split()).upper()[:20]
    return payload["n"] if constant_time_compare(typed, _letters(payload["n"])) else None


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # a Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def challenge_image(token: str) -> bytes | None:
    """The picture of the challenge as PNG: the letters turned and shifted, over lines and dots."""
    letters = challenge_answer(token)
    if not letters:
        return None
    width, height = 40 * CHALLENGE_LENGTH + 20, 72
    image = Image.new("RGB", (width, height), (246, 244, 236))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        draw.line([(_random.randint(0, width), _random.randint(0, height)) for _ in range(2)],
                  fill=tuple(_random.randint(120, 200) for _ in range(3)), width=2)
    font = _font(44)
    for index, letter in enumerate(letters):
        glyph = Image.new("L", (56, 64), 0)
        ImageDraw.Draw(glyph).text((10, 2), letter, font=font, fill=255)
        glyph = glyph.rotate(_random.uniform(-28, 28), resample=Image.Resampling.BICUBIC)
        colour = (_random.randint(0, 80), _random.randint(0, 80), _random.randint(40, 140))
        image.paste(Image.new("RGB", glyph.size, colour), (6 + 40 * index, _random.randint(0, 8)), glyph)
    for _ in range(160):
        draw.point((_random.randrange(width), _random.randrange(height)),
                   fill=tuple(_random.randint(60, 180) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
