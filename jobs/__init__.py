"""Long work started from a page (building the KPM list, applying a payment report, importing decisions) run by a
Celery worker instead of inside the request, with a page that shows its progress and outcome."""
