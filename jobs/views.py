"""A background job's page: its progress while it runs (the page reloads itself) and its outcome."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from .models import Job
from .services import job_outcome


@login_required
def job_detail(request, pk: int):
    """Only the user who started the job sees it; anyone else gets 404."""
    job = get_object_or_404(Job, pk=pk, user=request.user)
    return render(request, "jobs/job_detail.html", {"job": job, "outcome": job_outcome(job)})
