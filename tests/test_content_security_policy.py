"""Content-Security-Policy (issue 13): every page forbids inline and foreign scripts, so a script that slipped in
cannot act as the signed-in user; the templates hold nothing the policy would block."""
import re
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Role

from .factories import VILLAGE, UserFactory, client_for

pytestmark = pytest.mark.django_db
STRICT = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'self'",
          "frame-ancestors 'none'", "form-action 'self'", "img-src 'self' data: blob:")


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("url", ["/akun/masuk/", "/cek-bansos/", "/", "/verval/", "/admin/login/"])
def test_every_page_carries_the_strict_policy(url):
    user = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    response = client_for(user).get(url, follow=True)
    assert response.status_code == 200
    policy = directives(response)
    for directive in STRICT:
        assert policy[directive.split()[0]] == directive
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_api_docs_page_allows_inline_styles_but_never_inline_scripts():
    response = client_for(UserFactory(role=Role.DINSOS, area_id="12.09")).get("/api/docs/")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == "script-src 'self'"
    assert "'unsafe-inline'" in policy["style-src"]
    assert "<script>" not in response.content.decode()  # the start-up script is a file of its own


def test_no_template_holds_an_inline_script_event_handler_or_style_attribute():
    offenders = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"\sstyle\s*=", r"<style",
                        r"javascript:"):
            offenders += [f"{template.name}: {match}" for match in re.findall(pattern, text)]
    assert offenders == []
