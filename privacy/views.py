"""The personal-data access log for the regency's Dinsos staff and administrators (UU PDP), and the pages of
exports written in the background (their progress and download, for the user who asked for them only)."""
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _

from accounts.models import Role
from dtsen_portal.spreadsheets import SPREADSHEET_TYPES

from . import selectors
from .forms import AccessFilterForm
from .models import ExportJob

ACCESSES_PER_PAGE = 50


@login_required
def access_log(request):
    user = request.user
    if not (user.is_administrator or user.role == Role.DINSOS):
        raise PermissionDenied(_("The access log is for Dinas Sosial staff and administrators."))
    form = AccessFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    accesses = selectors.access_list(user=user, username=data.get("user", ""), kind=data.get("kind", ""),
                                     date_from=data.get("date_from"), date_to=data.get("date_to"))
    page = Paginator(accesses, ACCESSES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "privacy/access_log.html", {
        "form": form, "page": page, "query": query.urlencode(),
        "usernames": selectors.access_usernames(user=user),
    })


@login_required
def export_job(request, pk: int):
    """A background export's progress (the page reloads itself until it is done) and its download link."""
    job = get_object_or_404(ExportJob, pk=pk, user=request.user)
    return render(request, "privacy/export_job.html", {
        "job": job, "pending": job.state in (ExportJob.State.QUEUED, ExportJob.State.RUNNING)})


@login_required
def export_job_download(request, pk: int):
    """The finished file, to the user who asked for it; anyone else (and a job not done) gets 404."""
    job = get_object_or_404(ExportJob, pk=pk, user=request.user, state=ExportJob.State.DONE)
    path = Path(str(settings.MEDIA_ROOT)) / job.file.name
    if not job.file.name or not path.is_file():
        raise Http404
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"{job.name}.{job.kind}",  # noqa: SIM115
                        content_type=SPREADSHEET_TYPES.get(job.kind, "application/octet-stream"))
