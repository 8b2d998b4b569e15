"""The normalised name key of the duplicate finder (``registry.duplicates``), as a PostgreSQL function and an
expression index, so every write path keeps it current (the ORM, and the COPY of the central ingest alike).

``registry_name_key(name)`` folds the ways people write the same Indonesian name into one key: case and
punctuation, degrees after a comma, titles (H., Hj., Drs., Ir., ...), Muhammad/Muhamad/Moh./M., old spellings
(oe→u, dj→j, tj→c, sj→sy, ch/kh→h, dh→d, th→t, j→y, q→k), a final h after a vowel, a final y or ie (i) and doubled letters. Words stay
apart in the key (a missing marga is a missing last word); the finder compares it without spaces as well
("Nurhaliza" / "Nur Haliza"). PostgreSQL only: on SQLite the finder is not available (nothing is created).
"""
from django.db import migrations

TITLES = ("H", "HJ", "HAJI", "HAJAH", "HAJJAH", "DRS", "DRA", "DR", "IR", "PROF", "KH", "ALM", "ALMH", "ALMARHUM",
          "ALMARHUMAH", "BPK", "BAPAK", "IBU", "NY", "TN", "UST", "USTADZ", "USTADZAH")
MUHAMMAD = ("MUHAMMAD", "MUHAMAD", "MUHAMMED", "MUHAMED", "MOHAMMAD", "MOHAMAD", "MOHAMMED", "MOHAMED", "MOCHAMMAD",
            "MOCHAMAD", "MUCHAMMAD", "MUCHAMAD", "MUHD", "MOHD", "MOH", "MUH", "MHD", "MUCH", "MOCH", "MD")


def _replaces(pairs) -> str:
    """Nested replace() calls: plain substring replaces, far cheaper than regular expressions on every row
    the central ingest COPYs."""
    sql = "k"
    for old, new in pairs:
        sql = f"replace({sql}, '{old}', '{new}')"
    return sql


# Words are matched with a space either side: the key is padded with spaces while it is built.
_TITLES = _replaces((f" {t} ", " ") for t in TITLES)
_MUHAMMAD = _replaces((f" {m} ", " M ") for m in MUHAMMAD)
_SPELLING = _replaces((("SJ", "SY"), ("DJ", "J"), ("TJ", "C"), ("J", "Y"), ("DH", "D"), ("TH", "T"), ("KH", "H"),
                       ("CH", "H"), ("Q", "K")))
_UNDOUBLE = _replaces((c * 2, c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ENDINGS = _replaces([(f"{v}H ", f"{v} ") for v in "AEIOU"] + [("IE ", "I "), ("Y ", "I ")])

FUNCTION = f"""
CREATE OR REPLACE FUNCTION registry_name_key(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE k text;
BEGIN
  k := upper(split_part(name, ',', 1));                      -- degrees come after a comma: "Budi, S.Pd."
  k := replace(replace(k, chr(39), ''), '`', '');       -- Ma'ruf = Maruf
  IF k ~ '[^A-Z ]' THEN
    k := regexp_replace(k, '[^A-Z]+', ' ', 'g');             -- dots and dashes part words: "H.M.Yusuf"
  END IF;
  k := ' ' || replace(k, ' ', '  ') || ' ';                  -- every word between its own two spaces
  k := {_TITLES};                                            -- H., Hj., Drs., Ir. ...
  k := replace(k, 'OE', 'U');                                -- Moehammad = Muhammad, Soekarno = Sukarno
  k := {_MUHAMMAD};                                          -- Muhammad, Muhamad, Moh., Mochammad = M.
  k := {_SPELLING};                                          -- old spellings: Djoko Tjahjono = Joko Cahyono
  k := {_UNDOUBLE};                                          -- Muhammad = Muhamad, Sitti = Siti
  k := {_UNDOUBLE};
  k := {_ENDINGS};                                           -- Fatimah = Fatima, Rizky = Rizki, Bakrie = Bakri
  RETURN btrim(regexp_replace(k, ' {{2,}}', ' ', 'g'));
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
