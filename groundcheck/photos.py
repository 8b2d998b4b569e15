"""Visit photos are re-encoded on the server: checked to be real images, shrunk, stripped of metadata.

Re-encoding through Pillow drops EXIF (including the phone's GPS trail and owner name) and anything else a
file may carry; the longest side is capped so a village's bandwidth and the server's disk are spared.
"""
import io
import uuid

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from dtsen_portal.uploads import MAX_UPLOAD_BYTES

MAX_SIDE = 1600
JPEG_QUALITY = 82
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
Image.MAX_IMAGE_PIXELS = 60_000_000  # refuse decompression bombs well before they eat the server's memory


def clean_photo(upload) -> tuple[ContentFile, int, int]:
    """A re-encoded JPEG of an uploaded photo, with its width and height; ValidationError if it is not one."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(_("Photo %(name)s is larger than 5 MB.") % {"name": upload.name})
    try:
        image = Image.open(upload)
        if image.format not in ACCEPTED_FORMATS:
            raise ValidationError(_("Photo %(name)s is not a JPEG, PNG or WebP image.") % {"name": upload.name})
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError(_("Photo %(name)s is not an image that can be opened.") % {"name": upload.name}) \
            from None
    image = ImageOps.exif_transpose(image)  # keep the photo upright once the orientation tag is gone
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return ContentFile(buffer.getvalue(), name=f"{uuid.uuid4().hex}.jpg"), image.width, image.height
