"""A search by name within a round reads the round's own rows: the names of each entry's family members
(one a line, in member order) copied onto the entry and kept by PostgreSQL triggers.

The row trigger of 0007 now fills the names as well, when an entry is inserted without them (NULL) or
written with other values; a statement trigger on the members recomputes the names of the entries whose
family gained, lost or renamed a member, once per statement. Only PostgreSQL: on SQLite the search probes
the members, as before.
"""
from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION verification_family_names(family bigint) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(string_agg(name, chr(10) ORDER BY id), '') FROM registry_member WHERE family_id = family
$$;

UPDATE verification_roundfamily rf SET family_names = coalesce(m.names, '')
FROM (SELECT family_id, string_agg(name, chr(10) ORDER BY id) AS names FROM registry_member GROUP BY family_id) m
WHERE m.family_id = rf.family_id;
UPDATE verification_roundfamily SET family_names = '' WHERE family_names IS NULL;

CREATE OR REPLACE FUNCTION verification_entry_family_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT dusun, kk_number INTO NEW.family_dusun, NEW.family_kk FROM registry_family WHERE id = NEW.family_id;
  NEW.family_names := verification_family_names(NEW.family_id);
  RETURN NEW;
END $$;
DROP TRIGGER verification_entry_family_keys_insert ON verification_roundfamily;
DROP TRIGGER verification_entry_family_keys_update ON verification_roundfamily;
CREATE TRIGGER verification_entry_family_keys_insert BEFORE INSERT ON verification_roundfamily
FOR EACH ROW WHEN (NEW.family_kk IS NULL OR NEW.family_kk = '' OR NEW.family_dusun IS NULL
                   OR NEW.family_names IS NULL)
EXECUTE FUNCTION verification_entry_family_keys();
CREATE TRIGGER verification_entry_family_keys_update BEFORE UPDATE ON verification_roundfamily
FOR EACH ROW WHEN (NEW.family_id <> OLD.family_id OR NEW.family_kk IS DISTINCT FROM OLD.family_kk
                   OR NEW.family_dusun IS DISTINCT FROM OLD.family_dusun
                   OR NEW.family_names IS DISTINCT FROM OLD.family_names)
EXECUTE FUNCTION verification_entry_family_keys();

CREATE OR REPLACE FUNCTION verification_member_names_to_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'UPDATE verification_roundfamily rf SET family_names = verification_family_names(rf.family_id) '
          'WHERE rf.family_id IN (' || CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT family_id FROM new_rows'
            WHEN 'DELETE' THEN 'SELECT family_id FROM old_rows'
            ELSE 'SELECT x.family_id FROM new_rows n JOIN old_rows o ON o.id = n.id '
                 'CROSS JOIN LATERAL (VALUES (n.family_id), (o.family_id)) x(family_id) '
                 'WHERE (n.name, n.family_id) IS DISTINCT FROM (o.name, o.family_id)' END || ')';
  RETURN NULL;
END $$;
CREATE TRIGGER verification_member_names_insert AFTER INSERT ON registry_member
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION verification_member_names_to_entries();
CREATE TRIGGER verification_member_names_update AFTER UPDATE ON registry_member
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION verification_member_names_to_entries();
CREATE TRIGGER verification_member_names_delete AFTER DELETE ON registry_member
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION verification_member_names_to_entries();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS verification_member_names_insert ON registry_member;
DROP TRIGGER IF EXISTS verification_member_names_update ON registry_member;
DROP TRIGGER IF EXISTS verification_member_names_delete ON registry_member;
DROP FUNCTION IF EXISTS verification_member_names_to_entries();
CREATE OR REPLACE FUNCTION verification_entry_family_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT dusun, kk_number INTO NEW.family_dusun, NEW.family_kk FROM registry_family WHERE id = NEW.family_id;
  RETURN NEW;
END $$;
DROP FUNCTION IF EXISTS verification_family_names(bigint);
"""


def _postgresql_only(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('verification', '0007_round_list_order_kept_by_triggers'),
    ]

    operations = [
        migrations.AddField(
            model_name='roundfamily',
            name='family_names',
            field=models.TextField(blank=True, editable=False, null=True, verbose_name="members' names"),
        ),
        migrations.RunPython(_postgresql_only(FORWARD), _postgresql_only(BACKWARD)),
    ]
