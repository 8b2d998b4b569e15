"""`manage.py check --deploy` passes without a warning under production settings (issue 13): HTTPS redirect,
HSTS, secure cookies, no DEBUG."""
import os
import subprocess
import sys

from django.conf import settings

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-" + "x7Qp2Lm9Zr4Tn8Vb" * 3,
    "DJANGO_ALLOWED_HOSTS": "verval.asahankab.go.id",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://verval.asahankab.go.id",
    "DJANGO_BEHIND_TLS_PROXY": "1",
    "CENTRAL_API_TOKEN": "production-token",
}
# Nothing from the test run may make production look more secure than it is configured to be.
CLEARED = ("DJANGO_SECURE_SSL_REDIRECT", "DJANGO_SECURE_COOKIES", "DJANGO_SECURE_HSTS_SECONDS",
           "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", "DJANGO_SECURE_HSTS_PRELOAD",
           # Set by the browser tests for Playwright's synchronous API in this process; never in production.
           "DJANGO_ALLOW_ASYNC_UNSAFE")


def test_deploy_check_passes_without_warnings_under_production_settings():
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update(PRODUCTION)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr and "System check identified no issues" in result.stdout
