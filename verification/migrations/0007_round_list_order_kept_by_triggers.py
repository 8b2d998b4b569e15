"""A round's family list ordered by an index of the round's own rows: the family's dusun and KK number
copied onto each round entry and kept equal to the family's by PostgreSQL triggers.

A row trigger fills them when an entry is inserted without them (bulk SQL that does not name the columns
included) or written with other values (a stale
object saved after its family changed, say): nobody but the family decides them. A statement trigger on
the families copies a changed dusun or KK number to the family's entries in one UPDATE per statement.
Only PostgreSQL: on SQLite the list is ordered through the join, as before.
"""
from django.conf import settings
from django.db import migrations, models

FORWARD = """
UPDATE verification_roundfamily rf SET family_dusun = f.dusun, family_kk = f.kk_number
FROM registry_family f WHERE f.id = rf.family_id;

CREATE OR REPLACE FUNCTION verification_entry_family_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT dusun, kk_number INTO NEW.family_dusun, NEW.family_kk FROM registry_family WHERE id = NEW.family_id;
  RETURN NEW;
END $$;
CREATE TRIGGER verification_entry_family_keys_insert BEFORE INSERT ON verification_roundfamily
FOR EACH ROW WHEN (NEW.family_kk IS NULL OR NEW.family_kk = '' OR NEW.family_dusun IS NULL)
EXECUTE FUNCTION verification_entry_family_keys();
CREATE TRIGGER verification_entry_family_keys_update BEFORE UPDATE ON verification_roundfamily
FOR EACH ROW WHEN (NEW.family_id <> OLD.family_id OR NEW.family_kk IS DISTINCT FROM OLD.family_kk
                   OR NEW.family_dusun IS DISTINCT FROM OLD.family_dusun)
EXECUTE FUNCTION verification_entry_family_keys();

CREATE OR REPLACE FUNCTION verification_family_keys_to_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE verification_roundfamily rf SET family_dusun = n.dusun, family_kk = n.kk_number
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE rf.family_id = n.id AND (n.dusun, n.kk_number) IS DISTINCT FROM (o.dusun, o.kk_number);
  RETURN NULL;
END $$;
CREATE TRIGGER verification_family_keys_to_entries AFTER UPDATE ON registry_family
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION verification_family_keys_to_entries();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS verification_entry_family_keys_insert ON verification_roundfamily;
DROP TRIGGER IF EXISTS verification_entry_family_keys_update ON verification_roundfamily;
DROP TRIGGER IF EXISTS verification_family_keys_to_entries ON registry_family;
DROP FUNCTION IF EXISTS verification_entry_family_keys();
DROP FUNCTION IF EXISTS verification_family_keys_to_entries();
"""


def _postgresql_only(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0003_member_birth_date_not_in_future'),
        ('verification', '0006_tally_triggers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='roundfamily',
            name='family_dusun',
            field=models.CharField(blank=True, default='', editable=False, max_length=60, verbose_name='dusun (hamlet)'),
        ),
        migrations.AddField(
            model_name='roundfamily',
            name='family_kk',
            field=models.CharField(blank=True, default='', editable=False, max_length=16, verbose_name='KK number'),
        ),
        migrations.RunPython(_postgresql_only(FORWARD), _postgresql_only(BACKWARD)),
        migrations.AddIndex(
            model_name='roundfamily',
            index=models.Index(fields=['round', 'family_dusun', 'family_kk', 'id'], name='round_list_order'),
        ),
    ]
