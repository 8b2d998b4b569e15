"""Hostile files an attacker would upload (issue 13), built in code so the tests show exactly what each holds."""
import io
import struct
import zlib

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

# The script of issue 13: read the CSRF cookie and approve the operator's own round as whoever opens the file.
APPROVING_SCRIPT = (b"<script>window.HOSTILE_RAN = true; var t = document.cookie.split('csrftoken=')[1];"
                    b"fetch(location.origin + '/verval/', {method: 'POST', headers: {'X-CSRFToken': t}});</script>")
HTML_WITH_JPEG_MAGIC = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00<html><body>" + APPROVING_SCRIPT + b"</body></html>"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of_size(width: int, height: int, *, real_pixels: bool = False) -> bytes:
    """A grey PNG that says it is ``width`` × ``height``; with ``real_pixels`` its data decodes to all of them
    (a decompression bomb: a small file, hundreds of megabytes once decoded)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    if real_pixels:
        compressor = zlib.compressobj(9)
        row = b"\x00" * (width + 1)
        data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    else:
        data = zlib.compress(b"\x00" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def jpeg(size=(64, 48), **save) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def png_with_text(text: bytes) -> bytes:
    plain = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 160, 90)).save(plain, format="PNG")
    data = plain.getvalue()
    return data[:-12] + png_chunk(b"tEXt", b"Comment\x00" + text) + data[-12:]  # before IEND


def pdf(change=None, pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    if change:
        change(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _javascript_action() -> DictionaryObject:
    return DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                             NameObject("/JS"): TextStringObject("app.alert('pwned')")})


def _open_action_javascript(writer):
    writer._root_object[NameObject("/OpenAction")] = _javascript_action()


def _page_additional_action(writer):
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): _javascript_action()})


def _launch(writer):
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")})


def _embedded_html(writer):
    writer.add_attachment("surat.html", b"<html>" + APPROVING_SCRIPT + b"</html>")


def pdf_with_hex_escaped_javascript() -> bytes:
    """/OpenAction and /JavaScript spelled with #-escapes, as filters that match bytes miss them."""
    return pdf(_open_action_javascript).replace(b"/OpenAction", b"/Op#65nAction").replace(
        b"/JavaScript", b"/J#61vaScript")


# (id, file name, content): each must be refused.
REFUSED = [
    ("html-with-jpeg-magic", "bukti.jpg", HTML_WITH_JPEG_MAGIC),
    ("html-page", "bukti.jpg", b"<!doctype html><html>" + APPROVING_SCRIPT + b"</html>"),
    ("svg-with-script", "bukti.svg",
     b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(document.domain)</script></svg>"),
    ("gif-javascript-polyglot", "bukti.gif", b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.cookie);//"),
    ("pdf-open-action-javascript", "ba.pdf", pdf(_open_action_javascript)),
    ("pdf-hex-escaped-javascript", "ba.pdf", pdf_with_hex_escaped_javascript()),
    ("pdf-page-additional-action", "ba.pdf", pdf(_page_additional_action)),
    ("pdf-launch-action", "ba.pdf", pdf(_launch)),
    ("pdf-embedded-file", "ba.pdf", pdf(_embedded_html)),
    ("pdf-encrypted", "ba.pdf", pdf(lambda writer: writer.encrypt("rahasia"))),
    ("pdf-too-many-pages", "ba.pdf", pdf(pages=31)),
    ("pdf-header-then-html", "ba.pdf", b"%PDF-1.4\n<html>" + APPROVING_SCRIPT + b"</html>"),
    ("png-20000x20000", "besar.png", png_of_size(20000, 20000)),
    ("png-bomb-10000x10000", "bom.png", png_of_size(10000, 10000, real_pixels=True)),
    ("zero-bytes", "kosong.jpg", b""),
    ("truncated-jpeg", "potong.jpg", jpeg((400, 300))[:300]),
    ("exe-renamed-jpg", "foto.jpg", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64),
    ("elf-renamed-jpg", "foto.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 64),
    ("zip-renamed-pdf", "ba.pdf", b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64),
]

# (id, file name, content): accepted only after being rebuilt; the stored bytes must carry none of the payload.
SANITISED = [
    ("jpeg-with-html-appended", "bukti.jpg", jpeg() + b"<html>" + APPROVING_SCRIPT + b"</html>"),
    ("jpeg-with-script-in-exif", "bukti.jpg", jpeg(exif=b"Exif\x00\x00" + APPROVING_SCRIPT)),
    ("png-with-script-in-text-chunk", "bukti.png", png_with_text(APPROVING_SCRIPT)),
]
