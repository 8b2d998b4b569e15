"""Every role's forms, sent incomplete from a real browser at 360 px and 1366 px: each error sits in its field's
block, the summary at the top links to fields that exist, and the page still fits the screen.

The browser's own checks (``required``) are switched off first, as an old phone's browser may not run them: the
server's messages are what this walks."""
import pytest

from .conftest import DEMO_PASSWORD as PASSWORD
from .conftest import log_in, shoot
from .test_every_page_at_360px import WIDTHS

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Errors outside a field block, and summary links that lead nowhere.
MISPLACED = """() => {
  const loose = [];
  for (const list of document.querySelectorAll('main .errorlist')) {
    if (list.closest('.error-summary') || list.classList.contains('nonfield')) continue;
    if (!list.closest('.field, fieldset')) loose.push(list.textContent.trim());
  }
  const dead = [];
  for (const link of document.querySelectorAll('.error-summary a[href^="#"]')) {
    if (!document.getElementById(link.getAttribute('href').slice(1))) dead.push(link.getAttribute('href'));
  }
  const shown = document.querySelectorAll('main .field .errorlist, .error-summary li').length;
  return {loose, dead, shown};
}"""


def forms_of(role: str, round_) -> list[tuple[str, dict]]:
    """(page, what to type before sending): empty, or a wrong value where every field may be left empty."""
    village = [(f"/verval/{round_.pk}/usulan/", {}), (f"/verval/{round_.pk}/musdesus/", {}),
               (f"/verval/{round_.pk}/musdesus/kop-surat/", {"email": "bukan alamat surel"})]
    return {"operator": village, "dinsos": [("/akun/pengguna/", {})],
            "citizen": [(f"/cek-bansos/?village={round_.village_id}", {})]}[role] + \
        ([("/akun/kata-sandi/", {})] if role != "citizen" else [])


@pytest.mark.parametrize("width", list(WIDTHS))
def test_incomplete_forms_show_each_error_beside_its_field_and_in_a_linked_summary(browser, live_server, demo,
                                                                                 width):
    round_, _entry, _job = demo
    problems = []
    for role in ("operator", "dinsos", "citizen"):
        context = browser.new_context(base_url=live_server.url, viewport=WIDTHS[width],
                                      is_mobile=width == "phone", has_touch=width == "phone")
        page = context.new_page()
        if role != "citizen":
            log_in(page, role, PASSWORD)
        for path, typed in forms_of(role, round_):
            page.goto(path)
            form = page.locator("main form[method=post]:has(.field)").first
            if not form.count():
                problems.append(f"{role} {path}: no form with field blocks")
                continue
            form.evaluate("f => { f.noValidate = true; }")
            for name, value in typed.items():
                form.locator(f"[name={name}]").fill(value)
            form.locator("button[type=submit], button:not([type])").first.click()
            page.wait_for_load_state()
            found = page.evaluate(MISPLACED)
            if not found["shown"]:
                problems.append(f"{role} {path}: an empty form showed no error")
            if found["loose"]:
                problems.append(f"{role} {path}: errors outside their field {found['loose'][:3]}")
            if found["dead"]:
                problems.append(f"{role} {path}: summary links to nothing {found['dead'][:3]}")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 1:
                problems.append(f"{role} {path} at {width}: {overflow}px wider than the screen")
            step = path.split("?")[0].strip("/").replace("/", "-").replace(str(round_.pk), "round")
            shoot(page, "ux", f"{role}-{width}-errors-{step}")
        context.close()
    assert problems == [], "\n".join(problems)
