"""Upload checks: the file's content decides its type, never its name or the browser's content type."""
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from dtsen_portal.uploads import MAX_UPLOAD_BYTES, validate_evidence_upload


def png_bytes() -> bytes:
    """A real 1x1 white PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))
            + chunk(b"IEND", b""))


# JPEG's start, JFIF header and end markers: all the content check looks at. The PNG and WebP are real 1x1 images.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def refusal(upload) -> tuple[str, str]:
    """The error's code and its message, rendered in English."""
    with translation.override("en"):
        with pytest.raises(ValidationError) as exc:
            validate_evidence_upload(upload)
        return exc.value.code, " ".join(exc.value.messages)  # lazy messages render in the active language


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("rumah.png", png_bytes(), "image/png"),
        ("rumah.jpg", JPEG, "image/jpeg"),
        ("rumah.webp", WEBP, "image/webp"),
        ("berita-acara.pdf", PDF, "application/pdf"),
    ],
)
def test_small_jpeg_png_webp_and_pdf_files_are_accepted(name, content, content_type):
    validate_evidence_upload(SimpleUploadedFile(name, content, content_type=content_type))


def test_content_decides_so_a_png_named_pdf_with_a_wrong_content_type_is_accepted():
    validate_evidence_upload(SimpleUploadedFile("scan.pdf", png_bytes(), content_type="application/pdf"))


def test_file_is_read_back_from_the_start_after_the_check():
    upload = SimpleUploadedFile("rumah.png", png_bytes(), content_type="image/png")
    upload.read(3)
    validate_evidence_upload(upload)
    assert upload.read() == png_bytes()


def test_text_file_renamed_jpg_is_refused_as_a_text_file():
    upload = SimpleUploadedFile("foto.jpg", b"BMW ini bukan foto, hanya teks.\n", content_type="image/jpeg")
    code, text = refusal(upload)
    assert code == "file_type"
    assert text == ("Only JPEG, PNG or WebP photos and PDF files are accepted; this file is a text file.")


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", "a GIF image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "a HEIC photo (iPhone format)"),
        (b"PK\x03\x04\x14\x00\x06\x00", "an archive or a Word/Excel document"),
        (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'></svg>", "an SVG image"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "a program"),
        (b"\x13\x37\x00\xfe\xba\xbe", "of an unknown type"),
    ],
)
def test_refused_file_is_described_in_the_message(content, kind):
    code, text = refusal(SimpleUploadedFile("bukti.jpg", content, content_type="image/jpeg"))
    assert code == "file_type"
    assert text.endswith(f"this file is {kind}.")


def test_empty_file_is_refused():
    code, text = refusal(SimpleUploadedFile("kosong.jpg", b"", content_type="image/jpeg"))
    assert code == "empty"
    assert text == "The file is empty. Choose a JPEG, PNG or WebP photo or a PDF file."


def test_file_over_the_limit_is_refused_with_its_size_and_the_limit():
    upload = SimpleUploadedFile("besar.jpg", JPEG + b"\x00" * (6 * 1024 * 1024), content_type="image/jpeg")
    code, text = refusal(upload)
    assert code == "too_large"
    assert text == "The file is 6.0\xa0MB; the limit is 5.0\xa0MB."


def test_file_just_over_the_limit_does_not_claim_the_same_size_as_the_limit():
    upload = SimpleUploadedFile("besar.jpg", JPEG + b"\x00" * (MAX_UPLOAD_BYTES + 1 - len(JPEG)))
    code, text = refusal(upload)
    assert code == "too_large"
    assert text == "The file is larger than the limit of 5.0\xa0MB."


def test_file_of_exactly_the_limit_is_accepted():
    validate_evidence_upload(SimpleUploadedFile("pas.jpg", JPEG + b"\x00" * (MAX_UPLOAD_BYTES - len(JPEG))))

