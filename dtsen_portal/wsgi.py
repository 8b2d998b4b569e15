"""WSGI entry point (gunicorn dtsen_portal.wsgi)."""
import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtsen_portal.settings")
application = get_wsgi_application()
# Everything loaded so far (Django, the apps, their modules) lives as long as the worker: out of the cyclic
# garbage collector's reach, a full collection during a request no longer walks it (it was a 50-100 ms pause
# now and then, the p95 of the API's lists).
gc.freeze()
