"""The API documentation page in Chromium: vendored Swagger UI renders and a signed-in user can try a request."""
import pytest

from accounts.models import Role
from tests.factories import PASSWORD, REGENCY, VILLAGE_OTHER_REGENCY, FamilyFactory, UserFactory, village

from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_docs_page_lists_the_endpoints_and_tries_one_with_the_browser_session(open_page, regions):
    home = FamilyFactory()
    away = FamilyFactory(village=village(VILLAGE_OTHER_REGENCY))
    UserFactory(username="dinsos-api", role=Role.DINSOS, area_id=REGENCY)
    page = open_page()
    log_in(page, "dinsos-api", PASSWORD)

    page.goto("/api/docs/")
    operation = page.locator("#operations-families-families_list")
    operation.wait_for()
    assert page.locator(".opblock").count() >= 25  # every route is documented
    shoot(page, "api-docs", "overview")

    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    body = operation.locator(".live-responses-table .response-col_description pre").first
    body.wait_for()
    text = body.inner_text()
    assert home.kk_number in text and away.kk_number not in text  # the session's area scope holds here too
    shoot(page, "api-docs", "families-tried")
