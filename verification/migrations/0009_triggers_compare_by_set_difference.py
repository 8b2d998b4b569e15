"""The statement triggers of 0006, 0007 and 0008 find the rows an UPDATE changed by set difference
(``new_rows EXCEPT old_rows`` on the columns that matter) instead of joining the two transition tables.

Transition tables have no index and no statistics, and 0007's static query was planned once for a one-row
statement: an UPDATE of 20,000 families joined them by nested loop, 20,000 x 20,000 comparisons (a re-pull
with one family in ten changed went from 0.86x to 0.10x raw COPY). EXCEPT is hashed or sorted whatever the
planner guesses, and every query now runs through EXECUTE so it is planned with the statement's real row
count. The results are the same rows as before: the new and the old version of each row whose compared
columns differ (NULLs compare equal, as IS DISTINCT FROM did).
"""
import importlib

from django.db import migrations

tallies = importlib.import_module("verification.migrations.0006_tally_triggers")

# A family moved to another village carries its living members: +1 where it is now, -1 where it was.
FAMILY_CARRIES = {
    **tallies.FAMILY_CARRIES,
    "UPDATE": "SELECT 1 AS s, id, village_id FROM (SELECT id, village_id FROM new_rows "
              "EXCEPT SELECT id, village_id FROM old_rows) moved_to UNION ALL "
              "SELECT -1, id, village_id FROM (SELECT id, village_id FROM old_rows "
              "EXCEPT SELECT id, village_id FROM new_rows) moved_from",
}


def _families_function(carries: dict) -> str:
    return f"""
CREATE OR REPLACE FUNCTION verification_tally_families() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM verification_villagedesiltally;
    DELETE FROM verification_villagemembertally;
  ELSE
    EXECUTE format('{tallies.FAMILY_UPSERT}', {tallies._by_op(tallies.FAMILY_ROWS)});
    EXECUTE format('{tallies.CARRIED}', {tallies._by_op(carries)});
  END IF;
  RETURN NULL;
END $$;
"""  # nosec B608 - this migration's own constant DDL, no input reaches it


FORWARD = _families_function(FAMILY_CARRIES) + """
CREATE OR REPLACE FUNCTION verification_family_keys_to_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'UPDATE verification_roundfamily rf SET family_dusun = c.dusun, family_kk = c.kk_number '
          'FROM (SELECT id, dusun, kk_number FROM new_rows '
          'EXCEPT SELECT id, dusun, kk_number FROM old_rows) c WHERE rf.family_id = c.id';
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION verification_member_names_to_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'UPDATE verification_roundfamily rf SET family_names = verification_family_names(rf.family_id) '
          'WHERE rf.family_id IN (' || CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT family_id FROM new_rows'
            WHEN 'DELETE' THEN 'SELECT family_id FROM old_rows'
            ELSE 'SELECT family_id FROM (SELECT id, name, family_id FROM new_rows '
                 'EXCEPT SELECT id, name, family_id FROM old_rows) renamed_to UNION '
                 'SELECT family_id FROM (SELECT id, name, family_id FROM old_rows '
                 'EXCEPT SELECT id, name, family_id FROM new_rows) renamed_from' END || ')';
  RETURN NULL;
END $$;
"""  # nosec B608 - constant DDL

# The functions as 0006, 0007 and 0008 left them.
BACKWARD = _families_function(tallies.FAMILY_CARRIES) + """
CREATE OR REPLACE FUNCTION verification_family_keys_to_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE verification_roundfamily rf SET family_dusun = n.dusun, family_kk = n.kk_number
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE rf.family_id = n.id AND (n.dusun, n.kk_number) IS DISTINCT FROM (o.dusun, o.kk_number);
  RETURN NULL;
END $$;

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
"""  # nosec B608 - constant DDL


def _postgresql_only(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('verification', '0008_round_search_names_kept_by_triggers'),
    ]

    operations = [
        migrations.RunPython(_postgresql_only(FORWARD), _postgresql_only(BACKWARD)),
    ]
