"""Files users upload: evidence photos of a family, the signed scan of the berita acara, visit photos.

A file is what its fully decoded content says, never its name, its first bytes or the content type the browser
sent, all of which the user controls (issue 13: an HTML page starting with JPEG bytes ran its script from the
portal's origin). So every accepted file is rebuilt here and only the rebuilt file is stored:

- photos are decoded with Pillow, after their pixel count is checked from the header alone (a 389 KB PNG can
  decode to gigabytes), and re-encoded as JPEG or PNG: metadata, trailing bytes and anything smuggled in are gone;
- PDFs are parsed with pypdf; one carrying JavaScript, automatic actions, embedded files or launch actions is
  refused, and the pages of the others are copied into a fresh document without their annotations;
- everything else is refused, described ("a HEIC photo", "a web page") so the user knows what to pick instead;
- the stored name is generated (a UUID and the extension of what was written), never the user's.

The files are served only through ``dtsen_portal.media`` (area scope, attachment, nosniff). Temporary files of
uploads that a killed worker left behind are swept by ``sweep_upload_temp_files``.
"""
from __future__ import annotations

import codecs
import io
import tempfile
import time
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadhandler import FileUploadHandler
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Photos larger than this are refused from their header, before a single pixel is decoded; a phone camera's
# 48-megapixel mode is the one common case above it, and its pictures are shrunk by the phone when shared.
MAX_IMAGE_PIXELS = 40_000_000
# Pillow's own guard, for any code path that opens an image without going through here: it warns above this
# and refuses above twice this.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
MAX_PDF_PAGES = 30
MAX_PDF_OBJECTS = 50_000
EVIDENCE_MAX_SIDE = 2400
JPEG_QUALITY = 85
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
    lowered = head.lower()
    if any(tag in lowered for tag in (b"<html", b"<script", b"<!doctype html", b"<body", b"<iframe")):
        return _("a web page")  # whatever bytes it starts with: the one kind that can attack the portal itself
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
    # Read from the start and put the position back, so whoever reads the file next gets all of it.
    upload.seek(0)
    try:
        return upload.read(HEAD_BYTES) or b""
    finally:
        upload.seek(0)


def _check_size(upload) -> None:
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


def _refuse_type(head: bytes) -> ValidationError:
    return ValidationError(ALLOWED, code="file_type", params={"kind": _describe(head)})


def _generated_name(extension: str) -> str:
    # Never the user's name or extension: the stored name decides how the file is served.
    return f"{uuid.uuid4().hex}.{extension}"


def validate_evidence_upload(upload) -> None:
    """Refuse an upload that is empty, larger than ``MAX_UPLOAD_BYTES``, or not a JPEG, PNG, WebP or PDF file.

    A quick check on the first bytes only, for a clear message early; ``clean_document`` decides. Raises
    ``ValidationError`` with code ``empty``, ``too_large`` or ``file_type``.
    """
    _check_size(upload)
    head = _read_head(upload)
    if _accepted_type(head) is None:
        raise _refuse_type(head)


# Images -------------------------------------------------------------------------------------------------------

IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
TOO_MANY_PIXELS = _("The photo is too large: %(width)s × %(height)s pixels; at most %(limit)s megapixels are "
                    "accepted. Send a smaller photo.")
TOO_MANY_PIXELS_UNKNOWN = _("The photo has more pixels than the %(limit)s megapixels accepted. Send a smaller "
                            "photo.")
DAMAGED_IMAGE = _("The photo cannot be opened: it is damaged or incomplete. Take or send it again.")


def open_image(upload, *, max_side: int | None = None) -> Image.Image:
    """The decoded photo in ``upload``, once its header shows an accepted format and size; else ValidationError.

    The pixel count is read from the header before anything is decoded, so a small file that would decode to
    gigabytes (a "decompression bomb") costs nothing. With ``max_side``, a JPEG is decoded straight at a reduced
    scale near that size (libjpeg's DCT scaling), so shrinking a large photo never holds all its pixels.
    """
    head = _read_head(upload)
    try:
        # Only the three formats' decoders are tried: no exotic parser sees the bytes.
        image = Image.open(upload, formats=IMAGE_FORMATS)
    except Image.DecompressionBombError:
        raise ValidationError(TOO_MANY_PIXELS_UNKNOWN, code="too_many_pixels",
                              params={"limit": MAX_IMAGE_PIXELS // 1_000_000}) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _refuse_type(head) from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ValidationError(TOO_MANY_PIXELS, code="too_many_pixels",
                              params={"width": width, "height": height, "limit": MAX_IMAGE_PIXELS // 1_000_000})
    if max_side and image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))
    try:
        image.load()
    except Image.DecompressionBombError:
        raise ValidationError(TOO_MANY_PIXELS_UNKNOWN, code="too_many_pixels",
                              params={"limit": MAX_IMAGE_PIXELS // 1_000_000}) from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
        # Truncated or corrupt data: Pillow refuses it (LOAD_TRUNCATED_IMAGES stays off).
        raise ValidationError(DAMAGED_IMAGE, code="damaged") from None
    return image


def reencode_image(image: Image.Image, *, max_side: int, keep_png: bool) -> tuple[bytes, str, int, int]:
    """The photo written anew, without metadata: (bytes, extension, width, height).

    A PNG stays a PNG when ``keep_png`` (a screenshot or a scan stays sharp); everything else becomes a JPEG.
    """
    source_format = image.format
    image = ImageOps.exif_transpose(image)  # keep the photo upright once the orientation tag is gone
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    if keep_png and source_format == "PNG":
        mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
        image = image.convert(mode)
        image.info = {}  # no text chunks, ICC profile or other metadata is carried over
        image.save(buffer, format="PNG", optimize=True)
        extension = "png"
    else:
        image = image.convert("RGB")
        image.info = {}
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        extension = "jpg"
    return buffer.getvalue(), extension, image.width, image.height


def clean_image(upload, *, max_side: int = EVIDENCE_MAX_SIDE, keep_png: bool = True) -> ContentFile:
    """A re-encoded copy of an uploaded photo under a generated name; ValidationError if it is not one."""
    _check_size(upload)
    image = open_image(upload, max_side=max_side)
    data, extension, _width, _height = reencode_image(image, max_side=max_side, keep_png=keep_png)
    return ContentFile(data, name=_generated_name(extension))


# A village's logo on its letterhead: PNG or JPEG only (what a printed letterhead takes), small once rebuilt.
LOGO_MAX_SIDE = 600
LOGO_ALLOWED = _("Only a PNG or JPEG image is accepted as the logo; this file is %(kind)s.")
_LOGO_TYPES = {"image/jpeg", "image/png"}
_OTHER_ACCEPTED = {"image/webp": _("a WebP image"), "application/pdf": _("a PDF file")}


def clean_logo(upload) -> ContentFile:
    """A re-encoded copy of an uploaded logo (PNG stays PNG, for its transparency), under a generated name.

    The same checks as every photo (size, header, pixel count, a full decode); only the accepted kinds are
    narrower, and a refusal says "logo" rather than "photo or PDF".
    """
    _check_size(upload)
    head = _read_head(upload)
    kind = _accepted_type(head)
    if kind not in _LOGO_TYPES:
        described = _OTHER_ACCEPTED.get(kind) or _describe(head)
        raise ValidationError(LOGO_ALLOWED, code="file_type", params={"kind": described})
    try:
        image = open_image(upload, max_side=LOGO_MAX_SIDE)
    except ValidationError as error:
        if error.code == "file_type":  # first bytes of a JPEG or PNG, but no such image behind them
            raise ValidationError(LOGO_ALLOWED, code="file_type", params={"kind": _describe(head)}) from None
        raise
    if image.format not in ("JPEG", "PNG"):
        raise ValidationError(LOGO_ALLOWED, code="file_type", params={"kind": UNKNOWN_KIND})
    data, extension, _width, _height = reencode_image(image, max_side=LOGO_MAX_SIDE, keep_png=True)
    return ContentFile(data, name=_generated_name(extension))


class LogoField(forms.FileField):
    """A form field whose cleaned value is the rebuilt logo (``clean_logo``), never the upload itself."""

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if not upload or upload is initial:
            return upload
        try:
            return clean_logo(upload)
        finally:
            upload.close()


# PDF ----------------------------------------------------------------------------------------------------------

# Names that make a PDF do something when opened or clicked, or carry another file inside it.
_ACTIVE_PDF_NAMES = frozenset({
    "/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/FileAttachment",
    "/RichMedia", "/XFA", "/SubmitForm", "/ImportData", "/GoToE", "/GoToR", "/Sound", "/Movie", "/Rendition",
})
ACTIVE_PDF = _("The PDF contains scripts, automatic actions or attached files, which are not accepted. "
               "Print it to a new PDF or scan the paper again.")
UNREADABLE_PDF = _("The PDF cannot be read: it is damaged, protected with a password or not a PDF. "
                   "Save or scan it again.")
TOO_MANY_PAGES = _("The PDF has %(pages)s pages; at most %(limit)s are accepted.")
NO_PAGES = _("The PDF has no pages.")


def _pdf_has_active_content(trailer) -> bool:
    """Whether anything reachable from the document's trailer is a script, an action, or an embedded file."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    seen: set[tuple[int, int]] = set()
    stack = [trailer]
    visited = 0
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            item = item.get_object()
        visited += 1
        if visited > MAX_PDF_OBJECTS:
            raise ValidationError(UNREADABLE_PDF, code="pdf_unreadable")
        if isinstance(item, DictionaryObject):  # streams too: their dictionary says what they hold
            for name, value in item.items():
                if name in _ACTIVE_PDF_NAMES:
                    return True
                stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(item)
        elif isinstance(item, NameObject) and item in _ACTIVE_PDF_NAMES:
            return True  # e.g. /S /JavaScript, /Type /EmbeddedFile
    return False


def clean_pdf(upload) -> ContentFile:
    """A copy of an uploaded PDF rebuilt from its pages alone, under a generated name; ValidationError if the
    PDF cannot be read, is encrypted, has no or too many pages, or carries active content."""
    from pypdf import PdfReader, PdfWriter

    _check_size(upload)
    upload.seek(0)
    try:
        reader = PdfReader(io.BytesIO(upload.read()), strict=False)
        if reader.is_encrypted:
            raise ValidationError(UNREADABLE_PDF, code="pdf_unreadable")
        pages = len(reader.pages)
        if pages == 0:
            raise ValidationError(NO_PAGES, code="pdf_pages")
        if pages > MAX_PDF_PAGES:
            raise ValidationError(TOO_MANY_PAGES, code="pdf_pages", params={"pages": pages, "limit": MAX_PDF_PAGES})
        if _pdf_has_active_content(reader.trailer):
            raise ValidationError(ACTIVE_PDF, code="pdf_active")
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        for page in writer.pages:
            # Links and form widgets live in annotations; a scan of a signed paper needs none of them.
            for key in ("/Annots", "/AA"):
                if key in page:
                    del page[key]
        buffer = io.BytesIO()
        writer.write(buffer)
    except ValidationError:
        raise
    except Exception:  # noqa: BLE001 - a parser fed hostile bytes can fail in any way; refusing is the answer
        raise ValidationError(UNREADABLE_PDF, code="pdf_unreadable") from None
    return ContentFile(buffer.getvalue(), name=_generated_name("pdf"))


def clean_document(upload) -> ContentFile:
    """The rebuilt photo or PDF of an evidence or berita acara upload, under a generated name."""
    validate_evidence_upload(upload)
    if _accepted_type(_read_head(upload)) == "application/pdf":
        return clean_pdf(upload)
    return clean_image(upload)


class DocumentField(forms.FileField):
    """A form field whose cleaned value is the rebuilt file (``clean_document``), never the upload itself."""

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if not upload or upload is initial:
            return upload
        try:
            return clean_document(upload)
        finally:
            # The temporary copy of a large upload goes now, accepted or refused; only the rebuilt file is kept.
            upload.close()


# Request size and temporary files -----------------------------------------------------------------------------

def max_request_bytes() -> int:
    """The largest multipart request read at all: four photos of a visit at the limit, plus the form fields."""
    return 4 * MAX_UPLOAD_BYTES + 1024 * 1024


class RequestSizeLimitHandler(FileUploadHandler):
    """Refuses an upload request larger than ``max_request_bytes()`` before a byte of its body is read or
    written to a temporary file (Django's own DATA_UPLOAD_MAX_MEMORY_SIZE does not count files)."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # noqa: N803
        if content_length and content_length > max_request_bytes():
            raise RequestDataTooBig(f"Upload request larger than {max_request_bytes()} bytes.")

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None


UPLOAD_TEMP_MAX_AGE_SECONDS = 60 * 60


def sweep_upload_temp_files(*, max_age_seconds: int = UPLOAD_TEMP_MAX_AGE_SECONDS) -> list[str]:
    """Delete temporary upload files older than ``max_age_seconds``; returns their names.

    Django deletes an upload's temporary file when the request ends, but a worker killed mid-request (a
    timeout, an out-of-memory kill, a deploy) never gets there. Only Django's own upload files are touched
    (``tmp*.upload*``, as TemporaryUploadedFile names them), and only once no request can still be using them.
    """
    directory = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())
    cutoff = time.time() - max_age_seconds
    removed = []
    for path in directory.glob("tmp*.upload*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path.name)
        except FileNotFoundError:
            continue  # another sweep or the request itself got there first
    return removed
