"""Uploaded files (evidence photos, visit photos, citizens' photos of a house, signed berita acara scans, village
logos) hold personal data: they are served only to signed-in users whose area covers the record the file belongs
to, never as public files.

Every file is sent as a download (``Content-Disposition: attachment``) with the type of what the portal
itself wrote (uploads are stored rebuilt under generated names: .jpg, .png or .pdf); anything else, such as a
file stored before uploads were rebuilt, goes out as ``application/octet-stream``. With ``nosniff`` (set by
SecurityMiddleware) and a policy that allows nothing to run, a hostile file never executes on the portal's
origin even if it was stored.
"""
from pathlib import Path

from csp.decorators import csp
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404

from accounts.scope import scope_queryset

# (model, file field) pairs that own uploads; a file not owned by a record the user can see answers 404.
OWNERS = (
    ("verification.RoundFamily", "evidence"),
    ("verification.Musdesus", "signed_scan"),
    ("groundcheck.VisitPhoto", "image"),
    ("verification.VillageLetterhead", "logo"),
    ("distribution.CitizenReport", "photo"),
)
# Only the types the portal writes; the stored extension is ours (see dtsen_portal.uploads), not the user's.
SERVED_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".pdf": "application/pdf"}


@csp({"default-src": "'none'", "sandbox": "", "frame-ancestors": "'none'"})
@login_required
def protected_media(request, path: str):
    from django.apps import apps

    if ".." in path.split("/"):
        raise Http404
    for label, field in OWNERS:
        model = apps.get_model(label)
        if scope_queryset(request.user, model.objects.filter(**{field: path})).exists():
            root = Path(str(settings.MEDIA_ROOT)).resolve()
            full = (root / path).resolve()
            if root not in full.parents or not full.is_file():
                raise Http404
            content_type = SERVED_TYPES.get(full.suffix.lower(), "application/octet-stream")
            response = FileResponse(open(full, "rb"), as_attachment=True, filename=full.name,  # noqa: SIM115
                                    content_type=content_type)  # FileResponse closes the file
            response["X-Content-Type-Options"] = "nosniff"  # also set by SecurityMiddleware; never left out
            return response
    raise Http404
