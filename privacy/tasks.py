"""Celery tasks of the privacy app: large exports written in the background, and their removal."""
from celery import shared_task

from . import services


@shared_task(name="privacy.run_export_job", acks_late=True)
def run_export_job(job_id: int) -> None:
    services.export_job_run(job_id)


@shared_task(name="privacy.sweep_export_jobs")
def sweep_export_jobs() -> int:
    return services.export_jobs_sweep()
