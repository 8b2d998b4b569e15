"""``/healthz``: up or down for anyone (a load balancer, the container's probe), 503 when the database or the
broker is down. Why it is down (hosts, ports, error texts) only an administrator's session sees: to anyone else
it would map the portal's insides."""
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
    except Exception as exc:  # any failure means "down"; say why (to administrators)
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


def _administrator(request) -> bool:
    # With the database down there is no session user to load: the public answer then.
    try:
        user = request.user
        return bool(user.is_authenticated and user.is_administrator)
    except Exception:
        return False


@never_cache
@require_GET
def healthz(request):
    database, broker = _database_status(), _broker_status()
    healthy = database["ok"] and broker["ok"]
    body = {"status": "ok" if healthy else "error"}
    if database["ok"] and _administrator(request):
        body.update(database=database, broker=broker)
    return JsonResponse(body, status=200 if healthy else 503)
