"""Celery application; configuration comes from Django settings (CELERY_* names)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtsen_portal.settings")

app = Celery("dtsen_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="uploads.sweep_temp_files")
def sweep_upload_temp_files():
    """Remove temporary upload files that workers killed mid-request left behind (issue 13)."""
    from dtsen_portal.uploads import sweep_upload_temp_files as sweep

    return len(sweep())
