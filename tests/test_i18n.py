"""The interface is in Bahasa Indonesia: every translatable string in the code has a translation,
and the compiled catalogue matches its source."""
import shutil
import subprocess
import sys

from django.conf import settings

IGNORE = shutil.ignore_patterns(".venv", ".git", "node_modules", "test-artifacts", "media", "staticfiles",
                                "__pycache__", "*.sqlite3", "data", "tests")


def msgfmt_statistics(po_file) -> str:
    result = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po_file)],
                            capture_output=True, text=True, check=True)
    return result.stderr.strip()


def test_every_interface_string_has_an_indonesian_translation(tmp_path):
    # Extract the strings afresh from a copy of the code, merged with the committed catalogue.
    copy = tmp_path / "src"
    shutil.copytree(settings.BASE_DIR, copy, ignore=IGNORE)
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "id", "--no-obsolete", "-v", "0"],
                    cwd=copy, check=True, env={"DJANGO_SECRET_KEY": "x", "PATH": "/usr/bin:/bin"})
    stats = msgfmt_statistics(copy / "locale/id/LC_MESSAGES/django.po")
    assert "untranslated" not in stats and "fuzzy" not in stats, stats


def test_compiled_catalogue_is_up_to_date(tmp_path):
    po = settings.BASE_DIR / "locale/id/LC_MESSAGES/django.po"
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(fresh), str(po)], check=True)
    assert fresh.read_bytes() == (po.with_suffix(".mo")).read_bytes(), "run `make messages` and commit"
