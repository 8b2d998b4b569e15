"""The worker's side of background jobs."""
from dtsen_portal.celery import app

from . import services


# Bound to the project's app rather than shared_task's "current app": a page sends it the moment a job is
# committed, whatever other Celery app a process (a test's worker) has made current meanwhile.
@app.task(name="jobs.run_job", acks_late=True)
def run_job(job_id: int) -> str:
    return services.job_run(job_id)
