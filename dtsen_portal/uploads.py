"""Checks on files users upload: evidence photos of a family and the signed scan of the berita acara.

The type is decided from the file's first bytes (its "magic number"), never from its name or the content type
the browser sent, both of which the user controls. Only JPEG, PNG and WebP photos and PDF documents are
accepted; a refused file is described ("a HEIC photo", "a text file") so the message tells the user what
they picked and what to pick instead.
"""
from __future__ import annotations

import codecs

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
HEAD_BYTES = 512  # enough for every signature below and for telling text from binary

ALLOWED = _("Only JPEG, PNG or WebP photos and PDF files are accepted; this file is %(kind)s.")
UNKNOWN_KIND = _("of an unknown type")

# ISO base media ("ftyp" box at byte 4) brands: iPhones save photos as HEIC by default, so say so.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}

# Refused formats people commonly pick by mistake, by leading bytes, with how to describe them.
_ARCHIVE = _("an archive or a Word/Excel document")
_REFUSED_SIGNATURES = (
    (b"GIF87a", _("a GIF image")),
    (b"GIF89a", _("a GIF image")),
    (b"II*\x00", _("a TIFF image")),
    (b"MM\x00*", _("a TIFF image")),
    (b"PK\x03\x04", _ARCHIVE),  # also .docx and .xlsx
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", _ARCHIVE),  # .doc and .xls
    (b"Rar!\x1a\x07", _ARCHIVE),
    (b"7z\xbc\xaf\x27\x1c", _ARCHIVE),
    (b"\x7fELF", _("a program")),
)
# Two-letter signatures, tried only once the file is known not to be text ("BMW", "MZ" in a note).
_WEAK_SIGNATURES = (
    (b"BM", _("a BMP image")),
    (b"MZ", _("a program")),
)


def _accepted_type(head: bytes) -> str | None:
    """The MIME type of an accepted file, from its first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        # Incremental, so a multi-byte character cut at the end of the sample does not count against it.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _describe(head: bytes):
    """A short description of a refused file, to finish "this file is ..."."""
    for signature, kind in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[4:8] == b"ftyp":
        return _("a HEIC photo (iPhone format)") if head[8:12] in _HEIF_BRANDS else _("a video")
    if head[:4] == b"RIFF":
        return _("a video")
    if _looks_like_text(head):
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if start.startswith(b"<svg") or (start.startswith(b"<?xml") and b"<svg" in start):
            return _("an SVG image")
        if start.startswith((b"<!doctype html", b"<html")):
            return _("a web page")
        return _("a text file")
    for signature, kind in _WEAK_SIGNATURES:
        if head.startswith(signature):
            return kind
    return UNKNOWN_KIND


def _read_head(upload) -> bytes:
    # Read from the start and put the position back, so whoever saves the file next gets all of it.
    upload.seek(0)
    try:
        return upload.read(HEAD_BYTES) or b""
    finally:
        upload.seek(0)


def validate_evidence_upload(upload) -> None:
    """Refuse an upload that is empty, larger than ``MAX_UPLOAD_BYTES``, or not a JPEG, PNG, WebP or PDF file.

    ``upload`` is a Django ``UploadedFile``; raises ``ValidationError`` with code ``empty``, ``too_large`` or
    ``file_type``.
    """
    size = upload.size
    if not size:
        raise ValidationError(
            _("The file is empty. Choose a JPEG, PNG or WebP photo or a PDF file."), code="empty"
        )
    if size > MAX_UPLOAD_BYTES:
        shown, limit = filesizeformat(size), filesizeformat(MAX_UPLOAD_BYTES)
        if shown == limit:
            # Just over the limit both round to the same figure; "5.0 MB; the limit is 5.0 MB" would confuse.
            raise ValidationError(_("The file is larger than the limit of %(limit)s."), code="too_large",
                                  params={"limit": limit})
        raise ValidationError(_("The file is %(size)s; the limit is %(limit)s."), code="too_large",
                              params={"size": shown, "limit": limit})
    head = _read_head(upload)
    if _accepted_type(head) is None:
        raise ValidationError(ALLOWED, code="file_type", params={"kind": _describe(head)})
