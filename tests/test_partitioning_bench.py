"""The partitioning benchmark (docs/scaling.md, measured at 10,000,000 families) runs end to end at a small size,
so it cannot rot; its tables live in the test's transaction and are gone afterwards."""
import pytest
from django.conf import settings
from django.db import connection

from benchmarks.partitioning import run


@pytest.mark.integration
@pytest.mark.django_db
def test_partitioning_benchmark_fills_its_figures_and_leaves_no_table():
    if not settings.IS_POSTGRES:
        pytest.fail("the partitioning benchmark needs PostgreSQL: set DATABASE_URL")
    figures = run(5_000, queries=20, log=lambda *args, **kwargs: None)
    names = " / ".join(f.figure for f in figures)
    for expected in ("a village's families", "counting", "within a province", "across the country",
                     "taking out one province", "size"):
        assert expected in names
    assert all(f.met == (f.ratio <= 1.25) for f in figures if f.target == "ratio <= 1.25")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench_family%%'")
        assert cursor.fetchone()[0] == 0
