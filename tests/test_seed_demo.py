"""seed_demo: a deterministic demo regency written in bulk, replacing only earlier demo data, with logins."""
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client

from accounts.models import Role, User
from registry.models import DesilRanking, Family, Member

from .factories import FamilyFactory, MemberFactory, village

pytestmark = pytest.mark.django_db

REGENCY = "12.72"  # Kota Pematangsiantar: small, so the test stays quick
DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 - a test fixture, not a secret


def seed(households=150, seed=11, password=DEMO_PASSWORD):
    out = io.StringIO()
    call_command("seed_demo", regency=REGENCY, households=households, seed=seed, as_of=dt.date(2026, 11, 23),
                 password=password, stdout=out)
    return out.getvalue()


def snapshot():
    families = Family.objects.filter(village__pk__startswith=REGENCY + ".", origin=Family.Origin.DEMO)
    return (
        sorted(families.values_list("kk_number", "village_id", "dusun", "rt", "rw", "desil", "floor_type")),
        sorted(Member.objects.filter(family__in=families).values_list("nik", "name", "birth_date", "life_status")),
        sorted(DesilRanking.objects.filter(family__in=families).values_list("family__kk_number", "period", "desil")),
    )


def test_same_seed_twice_gives_identical_data_and_replaces_instead_of_adding():
    seed()
    first = snapshot()
    seed()
    assert snapshot() == first
    assert Family.objects.filter(origin=Family.Origin.DEMO).count() == 150
    assert len(first[2]) == 150 * 3  # three monthly publications each


def test_another_seed_gives_other_families():
    seed(seed=11)
    first = snapshot()
    seed(seed=12)
    assert snapshot()[0] != first[0]


def test_real_families_in_the_regency_are_left_alone():
    real = FamilyFactory(village=village("12.72.01.1001"), origin=Family.Origin.CENTRAL)
    MemberFactory(family=real)
    seed()
    seed(households=20)
    assert Family.objects.filter(pk=real.pk).exists() and real.members.count() == 1
    assert Family.objects.filter(origin=Family.Origin.DEMO).count() == 20


def test_demo_data_carries_its_creation_in_the_audit_history():
    seed(households=5)
    family = Family.objects.filter(origin=Family.Origin.DEMO).first()
    assert family.history.get().history_change_reason == "seed_demo"


def test_one_account_per_role_is_printed_and_can_log_in():
    out = seed(password=DEMO_PASSWORD)
    users = {u.username: u for u in User.objects.select_related("area")}
    assert {users[n].role for n in ("operator", "kades", "pendamping", "dinsos", "admin")} == set(Role.values)
    assert users["operator"].area.level == 4 and users["pendamping"].area.level == 3
    assert users["dinsos"].area_id == REGENCY and users["admin"].area is None
    assert users["operator"].area_id.startswith(users["pendamping"].area_id + ".")
    for name in ("operator", "kades", "pendamping", "dinsos", "admin"):
        assert name in out
        assert Client().login(request=HttpRequest(), username=name, password=DEMO_PASSWORD)  # django-axes needs one
    assert Family.objects.filter(village_id=users["operator"].area_id).exists()


def test_random_passwords_are_printed_when_none_is_given():
    out = io.StringIO()
    call_command("seed_demo", regency=REGENCY, households=5, seed=1, stdout=out)
    line = next(line for line in out.getvalue().splitlines() if line.strip().startswith("dinsos"))
    password = line.split()[1]
    assert Client().login(request=HttpRequest(), username="dinsos", password=password)


@pytest.mark.parametrize("regency,message", [("99.99", "99.99"), ("12.09.08", "12.09.08")])
def test_an_unknown_or_non_regency_code_is_refused_with_its_code_named(regency, message):
    with pytest.raises(CommandError, match=message):
        call_command("seed_demo", regency=regency, households=5, seed=1, stdout=io.StringIO())
    assert not Family.objects.exists()


def test_zero_households_is_refused():
    with pytest.raises(CommandError, match="--households"):
        call_command("seed_demo", regency=REGENCY, households=0, seed=1, stdout=io.StringIO())


def test_a_second_make_run_keeps_the_demo_worked_on_and_sent_and_prints_fresh_logins():
    """`make run` seeds with --keep: after the README journey (a round decided and sent to the centre) it starts
    again instead of failing, and what was done stays."""
    from central.models import Submission
    from verification.models import RoundFamily, VerificationRound

    seed()
    entry = RoundFamily.objects.filter(round__village__pk__startswith=REGENCY + ".").order_by("pk").first()
    RoundFamily.objects.filter(pk=entry.pk).update(decision=RoundFamily.Decision.ELIGIBLE)
    Submission.objects.create(round=entry.round)  # sent to the centre: the demo rounds cannot be deleted now
    with pytest.raises(CommandError, match=REGENCY):
        seed()  # without --keep a reseed still refuses, with the reason
    before = snapshot()

    out = io.StringIO()
    call_command("seed_demo", regency=REGENCY, households=150, seed=11, keep=True, stdout=out)

    assert "kept" in out.getvalue() and "make reset" in out.getvalue()
    assert snapshot() == before
    assert RoundFamily.objects.get(pk=entry.pk).decision == RoundFamily.Decision.ELIGIBLE
    assert VerificationRound.objects.filter(pk=entry.round_id).exists()
    line = next(line for line in out.getvalue().splitlines() if line.strip().startswith("operator"))
    assert Client().login(request=HttpRequest(), username="operator", password=line.split()[1])
    operator_village = User.objects.get(username="operator").area_id
    assert Family.objects.filter(village_id=operator_village, origin=Family.Origin.DEMO).exists()


def test_keep_on_an_empty_regency_seeds_it():
    out = io.StringIO()
    call_command("seed_demo", regency=REGENCY, households=5, seed=1, keep=True, stdout=out)
    assert Family.objects.filter(origin=Family.Origin.DEMO).count() == 5 and "kept" not in out.getvalue()


def test_make_reset_removes_only_the_sqlite_demo_and_refuses_another_database(tmp_path):
    import os
    import shutil
    import subprocess
    from pathlib import Path

    shutil.copy(Path(__file__).resolve().parents[1] / "Makefile", tmp_path / "Makefile")
    (tmp_path / "db.sqlite3").write_text("demo")
    (tmp_path / ".mock-central").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    refused = subprocess.run(["make", "-s", "reset"], cwd=tmp_path, capture_output=True, text=True,  # noqa: S607
                             env={**env, "DATABASE_URL": "postgres://postgres@127.0.0.1/x"})
    assert refused.returncode == 2 and "DATABASE_URL" in refused.stderr
    assert (tmp_path / "db.sqlite3").exists()
    done = subprocess.run(["make", "-s", "reset"], cwd=tmp_path, capture_output=True, text=True, env=env)  # noqa: S607
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "db.sqlite3").exists() and not (tmp_path / ".mock-central").exists()


@pytest.mark.integration
def test_make_runs_setup_builds_the_demo_on_a_fresh_sqlite_database_and_again_after(tmp_path):
    """`make run` is SQLite with in-process tasks: every migration must apply there (a table remade on SQLite
    takes every index of the model's state, PostgreSQL's trigram indexes included), and the demo builds twice."""
    import os
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    database = tmp_path / "db.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")}
    env.update(DATABASE_URL=f"sqlite:///{database}", DJANGO_DEBUG="1")

    def manage(*args):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    manage("migrate", "--noinput")
    manage("load_regions", "--only", "12.09")
    first = manage("seed_demo", "--keep", "--regency", "12.09", "--households", "40", "--seed", "3")
    again = manage("seed_demo", "--keep", "--regency", "12.09", "--households", "40", "--seed", "3")
    assert "operator" in first and "operator" in again
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM registry_family WHERE origin = 'demo'").fetchone()[0] >= 40
