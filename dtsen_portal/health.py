"""``/healthz``: database and broker status as JSON, 503 when one is down."""
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any failure means "down"; say why
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)[:200]}


def _broker_status() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "in-process"}
    from dtsen_portal.celery import app

    url = settings.CELERY_BROKER_URL
    try:
        with app.connection_for_read(url) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "mode": "broker", "transport": url.split(":", 1)[0]}
    except Exception as exc:
        return {"ok": False, "mode": "broker", "error": str(exc)[:200]}


@never_cache
@require_GET
def healthz(request):
    database, broker = _database_status(), _broker_status()
    healthy = database["ok"] and broker["ok"]
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "database": database, "broker": broker},
        status=200 if healthy else 503,
    )
