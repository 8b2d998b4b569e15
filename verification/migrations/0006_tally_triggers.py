"""The tallies of 0005 kept exact by PostgreSQL statement-level triggers with transition tables.

Each trigger adds one aggregate of the statement's rows (new rows +1, old rows -1) to the tally rows it
touches, so a bulk INSERT or COPY of a million rows costs one GROUP BY, and every write path is covered
(services, the ingest's bulk SQL, the admin, raw SQL, deletes, TRUNCATE). Upserts go in key order so that
two writers touching the same tally rows wait for each other instead of deadlocking. The queries run
through EXECUTE so each is planned with the statement's real row count (a cached plan made for one row
would be reused for a million, or the other way round).

Living members follow their family: a family inserted after its members (foreign keys are checked at
commit), deleted before them, or moved to another village carries its living members' count along; a
member written while its family is absent is not counted, so either order ends exact.

Only PostgreSQL: on SQLite (the ``make run`` demo) the selectors count instead.
"""
from django.db import migrations

ENTRY_ROWS = {
    "INSERT": "SELECT 1 AS s, round_id, decision, is_proposal, flagged FROM new_rows",
    "DELETE": "SELECT -1 AS s, round_id, decision, is_proposal, flagged FROM old_rows",
    "UPDATE": "SELECT 1 AS s, round_id, decision, is_proposal, flagged FROM new_rows UNION ALL "
              "SELECT -1, round_id, decision, is_proposal, flagged FROM old_rows",
}
FAMILY_ROWS = {
    "INSERT": "SELECT 1 AS s, village_id, desil FROM new_rows",
    "DELETE": "SELECT -1 AS s, village_id, desil FROM old_rows",
    "UPDATE": "SELECT 1 AS s, village_id, desil FROM new_rows UNION ALL SELECT -1, village_id, desil FROM old_rows",
}
# Families whose living members move with them (see the module's docstring).
FAMILY_CARRIES = {
    "INSERT": "SELECT 1 AS s, id, village_id FROM new_rows",
    "DELETE": "SELECT -1 AS s, id, village_id FROM old_rows",
    "UPDATE": "SELECT x.s, x.id, x.village_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
              "CROSS JOIN LATERAL (VALUES (1, n.id, n.village_id), (-1, o.id, o.village_id)) x(s, id, village_id) "
              "WHERE o.village_id <> n.village_id",
}
MEMBER_ROWS = {
    "INSERT": "SELECT 1 AS s, family_id FROM new_rows WHERE life_status = 'present'",
    "DELETE": "SELECT -1 AS s, family_id FROM old_rows WHERE life_status = 'present'",
    "UPDATE": "SELECT 1 AS s, family_id FROM new_rows WHERE life_status = 'present' UNION ALL "
              "SELECT -1, family_id FROM old_rows WHERE life_status = 'present'",
}


def _literal(sql: str) -> str:
    return "'" + sql.replace("'", "''") + "'"


def _by_op(rows: dict) -> str:
    """A plpgsql CASE choosing the statement's rows by TG_OP."""
    return "CASE TG_OP " + " ".join(f"WHEN '{op}' THEN {_literal(sql)}" for op, sql in rows.items()) + " END"


ENTRY_UPSERT = (
    "INSERT INTO verification_roundtally AS t "
    "(round_id, total, decided, eligible, not_eligible, corrected, proposals, flagged) "
    "SELECT * FROM (SELECT round_id, sum(s) AS total, sum(s * (decision <> '''')::int) AS decided, "
    "sum(s * (decision = ''eligible'')::int) AS eligible, sum(s * (decision = ''not_eligible'')::int) AS ne, "
    "sum(s * (decision = ''corrected'')::int) AS corrected, sum(s * is_proposal::int) AS proposals, "
    "sum(s * flagged::int) AS flagged FROM (%s) d GROUP BY round_id) a "
    "WHERE (total, decided, eligible, ne, corrected, proposals, flagged) <> (0, 0, 0, 0, 0, 0, 0) "
    "ORDER BY round_id ON CONFLICT (round_id) DO UPDATE SET total = t.total + excluded.total, "
    "decided = t.decided + excluded.decided, eligible = t.eligible + excluded.eligible, "
    "not_eligible = t.not_eligible + excluded.not_eligible, corrected = t.corrected + excluded.corrected, "
    "proposals = t.proposals + excluded.proposals, flagged = t.flagged + excluded.flagged"
)
FAMILY_UPSERT = (
    "INSERT INTO verification_villagedesiltally AS t (village_id, desil, families) "
    "SELECT * FROM (SELECT village_id, coalesce(desil, 0) AS desil, sum(s) AS n FROM (%s) d GROUP BY 1, 2) a "
    "WHERE n <> 0 ORDER BY 1, 2 "
    "ON CONFLICT (village_id, desil) DO UPDATE SET families = t.families + excluded.families"
)
LIVING_UPSERT = (
    "INSERT INTO verification_villagemembertally AS t (village_id, living) "
    "SELECT * FROM (SELECT %s, sum(d.s) AS n FROM (%s) d %s GROUP BY 1) a WHERE n <> 0 ORDER BY 1 "
    "ON CONFLICT (village_id) DO UPDATE SET living = t.living + excluded.living"
)
CARRIED = LIVING_UPSERT % (
    "d.village_id", "%s",
    "JOIN registry_member m ON m.family_id = d.id AND m.life_status = ''present''")
# Members: first netted per family (an update of every member that changes no life status joins nothing).
MEMBERS = LIVING_UPSERT % (
    "f.village_id", "SELECT family_id, sum(s) AS s FROM (%s) r GROUP BY family_id HAVING sum(s) <> 0",
    "JOIN registry_family f ON f.id = d.family_id")

# This migration's own constant DDL (no input reaches it): reviewed for bandit's B608 where the string ends.
FORWARD = (f"""
CREATE OR REPLACE FUNCTION verification_tally_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM verification_roundtally;
  ELSE
    EXECUTE format('{ENTRY_UPSERT}', {_by_op(ENTRY_ROWS)});
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION verification_tally_rounds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM verification_roundtally;
  ELSE
    DELETE FROM verification_roundtally WHERE round_id IN (SELECT id FROM old_rows);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION verification_tally_families() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM verification_villagedesiltally;
    DELETE FROM verification_villagemembertally;
  ELSE
    EXECUTE format('{FAMILY_UPSERT}', {_by_op(FAMILY_ROWS)});
    EXECUTE format('{CARRIED}', {_by_op(FAMILY_CARRIES)});
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION verification_tally_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM verification_villagemembertally;
  ELSE
    EXECUTE format('{MEMBERS}', {_by_op(MEMBER_ROWS)});
  END IF;
  RETURN NULL;
END $$;
"""  # nosec B608
)
TRIGGERS = (
    ("verification_roundfamily", "verification_tally_entries", True),
    ("verification_verificationround", "verification_tally_rounds", False),
    ("registry_family", "verification_tally_families", True),
    ("registry_member", "verification_tally_members", True),
)
for table, function, on_insert_update in TRIGGERS:
    events = [("DELETE", "OLD TABLE AS old_rows")]
    if on_insert_update:
        events += [("INSERT", "NEW TABLE AS new_rows"), ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")]
    for event, referencing in events:
        FORWARD += (f"CREATE TRIGGER {function}_{event.lower()} AFTER {event} ON {table} REFERENCING {referencing} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n")
    FORWARD += (f"CREATE TRIGGER {function}_truncate AFTER TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n")

# What is already there, counted once (the triggers above hold the tables' writers until commit).
FORWARD += """
INSERT INTO verification_roundtally (round_id, total, decided, eligible, not_eligible, corrected, proposals, flagged)
SELECT round_id, count(*), count(*) FILTER (WHERE decision <> ''), count(*) FILTER (WHERE decision = 'eligible'),
       count(*) FILTER (WHERE decision = 'not_eligible'), count(*) FILTER (WHERE decision = 'corrected'),
       count(*) FILTER (WHERE is_proposal), count(*) FILTER (WHERE flagged)
FROM verification_roundfamily GROUP BY round_id;
INSERT INTO verification_villagedesiltally (village_id, desil, families)
SELECT village_id, coalesce(desil, 0), count(*) FROM registry_family GROUP BY 1, 2;
INSERT INTO verification_villagemembertally (village_id, living)
SELECT f.village_id, count(*) FROM registry_member m JOIN registry_family f ON f.id = m.family_id
WHERE m.life_status = 'present' GROUP BY 1;
"""

BACKWARD = "".join(
    f"DROP TRIGGER IF EXISTS {function}_{event} ON {table};\n"
    for table, function, _both in TRIGGERS for event in ("insert", "update", "delete", "truncate")
) + "".join(f"DROP FUNCTION IF EXISTS {function}();\n" for _t, function, _b in TRIGGERS)


def _postgresql_only(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0003_member_birth_date_not_in_future"),
        ("verification", "0005_tallies_kept_by_triggers"),
    ]

    operations = [
        migrations.RunPython(_postgresql_only(FORWARD), _postgresql_only(BACKWARD)),
    ]
