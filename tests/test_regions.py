"""Loading the Kemendagri region tree: all rows, idempotent, atomic on a bad file."""
import pytest
from django.core.management import CommandError, call_command

from registry.models import Region
from registry.services import RegionFileError, regions_load

pytestmark = pytest.mark.django_db


def write(tmp_path, text: str):
    path = tmp_path / "wilayah.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_bundled_file_loads_every_region_once_and_second_run_changes_nothing(capsys):
    call_command("load_regions")
    assert Region.objects.count() == 91_599
    counts = {lvl: Region.objects.filter(level=lvl).count() for lvl in Region.Level.values}
    assert counts == {1: 38, 2: 514, 3: 7_285, 4: 83_762}
    second = regions_load()
    assert (second.created, second.updated, second.unchanged) == (0, 0, 91_599)
    assert Region.objects.count() == 91_599


def test_region_tree_links_each_village_to_its_kecamatan_regency_and_province():
    village = Region.objects.select_related("parent__parent__parent").get(code="12.09.08.2002")
    assert village.level == Region.Level.VILLAGE
    assert village.parent.code == "12.09.08"
    assert village.parent.parent.name == "Kabupaten Asahan"
    assert village.parent.parent.parent.name == "Sumatera Utara"
    assert village.village_kind == "Desa"


def test_changed_name_is_updated_not_duplicated(tmp_path):
    regions_load(path=write(tmp_path, "code,name\n12,Sumatera Utara Baru\n"))
    assert Region.objects.get(code="12").name == "Sumatera Utara Baru"
    assert Region.objects.filter(code="12").count() == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("code,name\n97,Provinsi Baru\n97.01,Kab Baru\n97.01.9,Bad\n", "Baris 4, kolom 'code'"),
        ("code,name\n97,Provinsi Baru\n97.01,\n", "Baris 3, kolom 'name'"),
        ("code,name\n97,Provinsi Baru\n97,Lagi\n", "sudah ada di baris 2"),
        ("code,name\n97,Provinsi Baru\n97.01.01,Tanpa Kabupaten\n", "wilayah induk 97.01"),
        ("kode;nama\n97;X\n", "Baris 1"),
        ("code,name\n97,Provinsi Baru,extra\n", "Baris 2: seharusnya 2 kolom"),
    ],
)
def test_bad_row_is_named_and_nothing_is_written(tmp_path, content, expected):
    before = Region.objects.count()
    with pytest.raises(RegionFileError) as exc:
        regions_load(path=write(tmp_path, content))
    assert expected in str(exc.value)
    assert Region.objects.count() == before
    assert not Region.objects.filter(code__startswith="97").exists()


def test_command_reports_bad_file_as_command_error(tmp_path):
    with pytest.raises(CommandError, match="Tidak ada yang disimpan"):
        call_command("load_regions", str(write(tmp_path, "code,name\nXX,Bad\n")))


def test_missing_file_gives_clear_error(tmp_path):
    with pytest.raises(CommandError, match="tidak dapat dibuka"):
        call_command("load_regions", str(tmp_path / "missing.csv"))
