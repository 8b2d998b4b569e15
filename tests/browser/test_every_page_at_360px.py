"""Every role's pages on the demo data, on a 360 px phone and at 1366 px: no page scrolls sideways, and no
stored code or English word of the model choices shows through the Indonesian text.

The codes looked for are the values of every model choice that are not also Indonesian words on their own
(``not_eligible``, ``in_verification``, ``disbursed``, ``scheduled`` ...), matched as whole words, case kept; the
English words are the choices' English labels whose Indonesian label differs ("Not eligible", "Waiting to be
sent"), matched as whole phrases, case kept: one of them on an Indonesian page is a label left untranslated."""
import re

import pytest
from django.apps import apps
from django.utils import translation

from jobs.models import Job
from verification.models import RoundFamily, VerificationRound

from .conftest import DEMO_PASSWORD as PASSWORD
from .conftest import log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WIDTHS = {"phone": {"width": 360, "height": 740}, "laptop": {"width": 1366, "height": 768}}
# Values that are Indonesian (or the same in both languages) and may rightly stand in the text.
# ("himbara" and "pos" are also the values a payment report file is written with, named in its help.)
# (Role codes double as the demo's usernames and are Indonesian words: dinsos, admin, operator.)
ALSO_WORDS = {"dinsos", "admin", "operator", "desil", "batch", "usulan", "demo", "pos", "himbara", "desa", "pkh",
              "blt", "id", "en", "ok", "l", "p", "sd", "smp", "sma", "d3", "s1", "s2", "s3"}


APPS = {"registry", "verification", "groundcheck", "distribution", "central", "monitoring", "privacy", "accounts",
        "jobs"}


def choice_codes() -> set[str]:
    codes = set()
    for model in apps.get_models():
        if model.__module__.split(".")[0] not in APPS:
            continue
        for field in model._meta.get_fields():
            for value, _label in getattr(field, "flatchoices", None) or []:
                if isinstance(value, str) and len(value) > 2 and value.lower() not in ALSO_WORDS:
                    codes.add(value)
    return codes


def english_labels() -> set[str]:
    """The English labels of the same choices, where the Indonesian label is another word."""
    labels = set()
    for model in apps.get_models():
        if model.__module__.split(".")[0] not in APPS:
            continue
        for field in model._meta.get_fields():
            for _value, label in getattr(field, "flatchoices", None) or []:
                with translation.override("en"):
                    english = str(label)
                with translation.override("id"):
                    indonesian = str(label)
                if english != indonesian and len(english) > 3 and english.lower() not in ALSO_WORDS:
                    labels.add(english)
    return labels


def pages_of(role: str, round_: VerificationRound, entry: RoundFamily, job: Job) -> list[str]:
    village = [f"/verval/{round_.pk}/", f"/verval/{round_.pk}/keluarga/{entry.pk}/", "/keluarga/",
               f"/keluarga/{entry.family_id}/", f"/verval/{round_.pk}/impor/", f"/verval/{round_.pk}/usulan/",
               f"/verval/{round_.pk}/musdesus/", f"/verval/{round_.pk}/musdesus/kop-surat/", "/laporan-warga/",
               "/pemantauan/perubahan-desil/"]
    regency = ["/verval/", "/verval/?state=submitted", f"/verval/{round_.pk}/tinjau/", "/keluarga/",
               f"/keluarga/{entry.family_id}/", "/laporan-warga/", "/bansos/", "/bansos/ketepatan-sasaran/",
               "/sinkronisasi/", "/sinkronisasi/bentrok/", "/akun/pengguna/", "/akun/log-masuk/", "/privasi/akses/",
               "/cek-lapangan/penugasan/", "/cek-lapangan/penugasan/massal/", "/bansos/daftar-kpm/",
               "/pemantauan/perubahan-desil/", "/pemantauan/siklus/", "/duplikat/", "/bansos/program/"]
    return {"operator": village, "kades": village, "pendamping": ["/cek-lapangan/", "/keluarga/"],
            "dinsos": [*regency, f"/pekerjaan/{job.pk}/"], "admin": regency,
            "citizen": ["/cek-bansos/", "/cek-bansos/status/"]}[role] + \
        (["/", "/akun/kata-sandi/"] if role != "citizen" else [])


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_roles_pages_fit_the_screen_and_show_no_codes(browser, live_server, demo, width):
    round_, entry, job = demo
    codes, labels = choice_codes(), english_labels()
    pattern = re.compile(r"(?<![\w/.-])(" + "|".join(sorted(map(re.escape, codes), key=len, reverse=True))
                         + r")(?![\w/.-])")
    english = re.compile(r"(?<![\w/.-])(" + "|".join(sorted(map(re.escape, labels), key=len, reverse=True))
                         + r")(?![\w/.-])")
    problems = []
    for role in ("operator", "kades", "pendamping", "dinsos", "admin", "citizen"):
        context = browser.new_context(base_url=live_server.url, locale="en-US", viewport=WIDTHS[width],
                                      is_mobile=width == "phone", has_touch=width == "phone")
        page = context.new_page()
        if role != "citizen":
            log_in(page, role, PASSWORD)
        for path in pages_of(role, round_, entry, job):
            response = page.goto(path)
            if response.status != 200:
                problems.append(f"{role} {path}: HTTP {response.status}")
                continue
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 1:
                problems.append(f"{role} {path} at {width}: {overflow}px wider than the screen")
                shoot(page, "ux-overflow", f"{role}-{width}-{path.strip('/').replace('/', '_') or 'home'}")
            text = page.locator("body").inner_text()
            leaked = [(m.group(1), text[max(0, m.start() - 30):m.end() + 30]) for m in pattern.finditer(text)]
            if leaked:
                problems.append(f"{role} {path}: codes shown {leaked[:3]}")
            untranslated = [(m.group(1), text[max(0, m.start() - 30):m.end() + 30]) for m in english.finditer(text)]
            if untranslated:
                problems.append(f"{role} {path}: English labels shown {untranslated[:3]}")
            if ">---------<" in page.content():
                problems.append(f"{role} {path}: an empty choice reads ---------")
        shoot(page, "ux", f"{role}-{width}-last")
        context.close()
    assert problems == [], "\n".join(problems)
