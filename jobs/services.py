"""Starting and running background jobs: the one place a page hands long work to a worker.

A job names a service of another app (JOB_WORK) and keeps its arguments; the worker calls that service as the
user who asked, so the service checks role, area and state when the work is done, not only when it was asked
for. The work and the job's "done" are committed together: a task delivered twice (acknowledged late, a worker
lost) finds the job done and does nothing, and a job that failed changed nothing (the services are all or
nothing)."""
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dtsen_portal.errors import ServiceError
from dtsen_portal.formats import number
from dtsen_portal.queue import enqueue

from .models import Job

log = logging.getLogger(__name__)

# kind -> (the service, called with actor= and the job's params; returns a count) and what the count means.
JOB_WORK = {
    Job.Kind.KPM_BUILD: ("distribution.services.kpm_build",
                         gettext_lazy("%(n)s families added to the KPM list.")),
    Job.Kind.PAYMENT_REPORT: ("distribution.services.payment_report_apply",
                              gettext_lazy("%(n)s payments updated from the report.")),
    Job.Kind.DECISION_IMPORT: ("verification.services.entries_import_decisions",
                               gettext_lazy("%(n)s decisions imported.")),
    Job.Kind.DUPLICATE_SCAN: ("registry.services.duplicate_scan_run",
                              gettext_lazy("%(n)s likely duplicate pairs found.")),
}
# Work that reports its progress as it goes: run outside the job's transaction, so the job's page can read the
# percentage while it runs; the service is given job_id= and progress= and keeps its own writes atomic.
STEPPED = {Job.Kind.DUPLICATE_SCAN}
PENDING = (Job.State.QUEUED, Job.State.RUNNING)
# A job still pending after this long is taken for lost (its worker died and the task was not redelivered):
# asking again starts a new one.
JOB_STALE = timedelta(hours=1)
# Arguments too large (or too personal) to keep once the work is over: the checked rows of an upload.
TRANSIENT_PARAMS = ("rows",)


def job_start(*, actor, kind: str, target: str, params: dict, return_url: str = "") -> Job:
    """Queue ``kind`` of work on ``target`` for ``actor`` and return its job, sent to a worker once the caller's
    transaction commits. A job of the same work (the same parameters) still pending is returned instead of a
    second one; other parameters (a second file for the same round) make a job of their own."""
    if kind not in JOB_WORK:
        raise ValueError(f"unknown job kind {kind!r}")
    pending = Job.objects.filter(user=actor, kind=kind, target=target, state__in=PENDING,
                                 created_at__gte=timezone.now() - JOB_STALE).first()
    if pending is not None and pending.params == params:
        return pending
    job = Job.objects.create(user=actor, kind=kind, target=target, params=params, return_url=return_url,
                             language=translation.get_language() or "")
    transaction.on_commit(lambda: _send(job.pk))
    return job


def _send(job_id: int) -> None:
    from .tasks import run_job

    if not enqueue(run_job, job_id):
        _finish(job_id, Job.State.FAILED, error=_("The queue service is not reachable, so the work was not "
                                                  "started and nothing was changed. Try again in a few minutes."))


def _finish(job_id: int, state: str, *, count: int | None = None, error: str = "") -> None:
    job = Job.objects.filter(pk=job_id).only("params", "progress").first()
    if job is None:
        return
    params = {k: v for k, v in job.params.items() if k not in TRANSIENT_PARAMS}
    Job.objects.filter(pk=job_id).update(state=state, count=count, error=error, params=params,
                                         finished_at=timezone.now(),
                                         progress=100 if state == Job.State.DONE and job.progress is not None
                                         else job.progress)


def _progress(job_id: int, percent: int) -> None:
    Job.objects.filter(pk=job_id, state=Job.State.RUNNING).update(progress=max(0, min(100, int(percent))))


def job_run(job_id: int) -> str:
    """Do the job's work (the worker's side); returns the job's state. A refusal of the service (the round was
    submitted meanwhile, the user lost the area) is kept on the job as its message, in the user's language."""
    started = Job.objects.filter(pk=job_id, state__in=PENDING).update(state=Job.State.RUNNING,
                                                                       started_at=timezone.now())
    if not started:
        return "skipped"
    job = Job.objects.select_related("user").get(pk=job_id)
    service = import_string(JOB_WORK[job.kind][0])
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            if job.kind in STEPPED:
                count = service(actor=job.user, job_id=job_id, progress=lambda p: _progress(job_id, p),
                                **job.params)
                _finish(job_id, Job.State.DONE, count=count)
            else:
                with transaction.atomic():
                    # A second delivery of the task waits here until the first commits, then finds the job done.
                    if Job.objects.select_for_update().filter(pk=job_id, state=Job.State.RUNNING).first() is None:
                        return "skipped"
                    count = service(actor=job.user, **job.params)
                    _finish(job_id, Job.State.DONE, count=count)
        except ServiceError as exc:
            _finish(job_id, Job.State.FAILED, error=exc.message)
        except Exception:  # noqa: BLE001 - whatever failed, the job says so and the user can try again
            log.exception("job %s (%s) failed", job_id, job.kind)
            _finish(job_id, Job.State.FAILED, error=_("The work could not be finished and nothing was changed. "
                                                      "Try again; if it fails again, tell the administrator."))
    return Job.objects.filter(pk=job_id).values_list("state", flat=True).first()


def job_outcome(job: Job) -> str:
    """What a finished job did, in words (the active language)."""
    if job.state == Job.State.DONE:
        return str(JOB_WORK[job.kind][1]) % {"n": number(job.count)}
    return job.error
