"""Uploaded files (evidence photos, visit photos, signed berita acara scans) hold personal data: they are
served only to signed-in users whose area covers the record the file belongs to, never as public files."""
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404

from accounts.scope import scope_queryset

# (model, file field) pairs that own uploads; a file not owned by a record the user can see answers 404.
OWNERS = (
    ("verification.RoundFamily", "evidence"),
    ("verification.Musdesus", "signed_scan"),
    ("groundcheck.VisitPhoto", "image"),
)


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
            return FileResponse(open(full, "rb"))  # noqa: SIM115 - FileResponse closes it
    raise Http404
