"""The normalised name key of the duplicate finder (``registry.duplicates``), as a PostgreSQL function and an
expression index, so every write path keeps it current (the ORM, and the COPY of the central ingest alike).

``registry_name_key(name)`` folds the ways people write the same Indonesian name into one key: case and
punctuation, degrees after a comma, titles (H., Hj., Drs., Ir., ...), Muhammad/Muhamad/Moh./M., old spellings
(oe→u, dj→j, tj→c, sj→sy, ch/kh→h, dh→d, th→t, j→y, q→k), a final h after a vowel, a final y or ie (i) and doubled letters. Words stay
apart in the key (a missing marga is a missing last word); the finder compares it without spaces as well
("Nurhaliza" / "Nur Haliza"). PostgreSQL only: on SQLite the finder is not available (nothing is created).
"""
from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION registry_name_key(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE k text;
BEGIN
  k := upper(regexp_replace(name, ',.*$', ''));             -- degrees come after a comma: "Budi, S.Pd."
  k := regexp_replace(k, '[''`]', '', 'g');                  -- Ma'ruf = Maruf
  k := regexp_replace(k, '[^A-Z]+', ' ', 'g');               -- dots and dashes part words: "H.M.Yusuf"
  k := regexp_replace(k, '\m(H|HJ|HAJI|HAJAH|HAJJAH|DRS|DRA|DR|IR|PROF|KH|ALM|ALMH|ALMARHUM|ALMARHUMAH|BPK|BAPAK'
                         '|IBU|NY|TN|UST|USTADZ|USTADZAH)\M', ' ', 'g');
  k := replace(k, 'OE', 'U');                                -- Moehammad = Muhammad, Soekarno = Sukarno
  k := regexp_replace(k, '\m(MU?C?H?A?M+[AE]?D|MOC?H?A?M+[AE]?D|MOHD?|MUH|MHD|MUCH|MOCH|MD)\M', 'M', 'g');
  k := replace(replace(replace(k, 'SJ', 'SY'), 'DJ', 'J'), 'TJ', 'C');
  k := replace(replace(replace(k, 'J', 'Y'), 'DH', 'D'), 'TH', 'T');
  k := replace(regexp_replace(k, '[KC]H', 'H', 'g'), 'Q', 'K');
  k := regexp_replace(k, '([A-Z])\1+', '\1', 'g');         -- Muhammad = Muhamad, Sitti = Siti
  k := regexp_replace(k, '([AEIOU])H\M', '\1', 'g');       -- Fatimah = Fatima
  k := regexp_replace(regexp_replace(k, 'IE\M', 'I', 'g'), 'Y\M', 'I', 'g');  -- Rizky = Rizki, Bakrie = Bakri
  RETURN btrim(regexp_replace(k, ' +', ' ', 'g'));
END
$fn$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTION)
        # Candidates of one person (an usulan) are read by birth date and compared by key; the index keeps
        # the key beside the date so the comparison reads no table rows for people of other names.
        cursor.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS member_birth_name_key "
                       "ON registry_member (birth_date, registry_name_key(name))")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS member_birth_name_key")
        cursor.execute("DROP FUNCTION IF EXISTS registry_name_key(text)")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('registry', '0005_fewer_indexes_on_monthly_writes'),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
