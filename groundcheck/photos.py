"""Visit photos are re-encoded on the server: checked to be real images, shrunk, stripped of metadata.

Re-encoding through Pillow drops EXIF (including the phone's GPS trail and owner name) and anything else a
file may carry; the longest side is capped so a village's bandwidth and the server's disk are spared. The
pixel count is checked from the header before decoding (``dtsen_portal.uploads.open_image``).
"""
import uuid

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _

from dtsen_portal.uploads import MAX_UPLOAD_BYTES, open_image, reencode_image

MAX_SIDE = 1600


def clean_photo(upload) -> tuple[ContentFile, int, int]:
    """A re-encoded JPEG of an uploaded photo, with its width and height; ValidationError if it is not one."""
    try:
        if not upload.size:
            raise ValidationError(_("Photo %(name)s is empty.") % {"name": upload.name})
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(_("Photo %(name)s is larger than 5 MB.") % {"name": upload.name})
        try:
            image = open_image(upload, max_side=MAX_SIDE)
        except ValidationError as error:
            raise ValidationError(_("Photo %(name)s: %(problem)s")
                                  % {"name": upload.name, "problem": " ".join(error.messages)}) from None
        data, _extension, width, height = reencode_image(image, max_side=MAX_SIDE, keep_png=False)
    finally:
        upload.close()  # the temporary copy of the upload goes now, whatever the outcome
    return ContentFile(data, name=f"{uuid.uuid4().hex}.jpg"), width, height

