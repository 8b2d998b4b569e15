"""The mock central's SQLite schema, and bringing a data directory written by an older mock up to it.

``migrate`` runs at every start-up inside one transaction: it creates what is missing, adds columns that
newer code reads (with values derived from what the older mock stored), and turns v1 submissions (one JSON
body per key) into v2 submissions (pages and items), so an existing ``--data-dir`` keeps working.
"""
from __future__ import annotations

import json
import sqlite3

from central.protocol import checksum

from .payload import InvalidSubmission, UnsupportedProtocol, parse_page

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL UNIQUE, regency TEXT NOT NULL,
    programme TEXT NOT NULL, published_at TEXT NOT NULL, family_count INTEGER NOT NULL,
    member_count INTEGER NOT NULL, page_size INTEGER NOT NULL, page_count INTEGER NOT NULL,
    checksum TEXT NOT NULL, deadline TEXT, cycle TEXT);
CREATE TABLE IF NOT EXISTS batch_pages (
    batch_id TEXT NOT NULL, page INTEGER NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (batch_id, page));
CREATE TABLE IF NOT EXISTS batch_families (
    batch_id TEXT NOT NULL, position INTEGER NOT NULL, page INTEGER NOT NULL, central_id TEXT NOT NULL,
    family_json TEXT NOT NULL, PRIMARY KEY (batch_id, position));
CREATE INDEX IF NOT EXISTS batch_families_page ON batch_families (batch_id, page, position);
CREATE TABLE IF NOT EXISTS families (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, central_id TEXT NOT NULL UNIQUE, regency TEXT NOT NULL,
    village_code TEXT NOT NULL, kk_number TEXT NOT NULL, attrs_json TEXT NOT NULL,
    living_members INTEGER NOT NULL, score REAL NOT NULL, desil INTEGER NOT NULL, origin TEXT NOT NULL,
    dusun TEXT NOT NULL DEFAULT '', rt TEXT NOT NULL DEFAULT '', rw TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '', latitude REAL, longitude REAL);
CREATE INDEX IF NOT EXISTS families_kk ON families (kk_number);
CREATE TABLE IF NOT EXISTS members (
    central_id TEXT NOT NULL, position INTEGER NOT NULL, nik TEXT NOT NULL, life_status TEXT NOT NULL,
    added_by_round TEXT, member_json TEXT NOT NULL, PRIMARY KEY (central_id, position));
CREATE INDEX IF NOT EXISTS members_nik ON members (nik);
CREATE TABLE IF NOT EXISTS identifiers (number TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, receipt_id TEXT UNIQUE, idempotency_key TEXT NOT NULL UNIQUE,
    protocol INTEGER NOT NULL, batch_id TEXT NOT NULL, round_ref TEXT NOT NULL, village_code TEXT NOT NULL,
    programme TEXT NOT NULL, page_count INTEGER NOT NULL, header_hash TEXT NOT NULL, status TEXT NOT NULL,
    received_at TEXT NOT NULL, completed_seq INTEGER, decided_at TEXT, reason TEXT, superseded_by TEXT);
CREATE INDEX IF NOT EXISTS submissions_round ON submissions (round_ref, status);
CREATE INDEX IF NOT EXISTS submissions_completed ON submissions (status, completed_seq);
CREATE TABLE IF NOT EXISTS submission_pages (
    submission_seq INTEGER NOT NULL, page INTEGER NOT NULL, body_hash TEXT NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (submission_seq, page));
CREATE TABLE IF NOT EXISTS submission_items (
    submission_seq INTEGER NOT NULL, ordinal INTEGER NOT NULL, page INTEGER NOT NULL, kind TEXT NOT NULL,
    ref TEXT NOT NULL, item_json TEXT NOT NULL, outcome TEXT, reason TEXT, new_central_id TEXT,
    PRIMARY KEY (submission_seq, ordinal), UNIQUE (submission_seq, ref));
CREATE TABLE IF NOT EXISTS final_results (
    central_id TEXT NOT NULL, round_ref TEXT NOT NULL, receipt_id TEXT NOT NULL, decision TEXT NOT NULL,
    reason TEXT NOT NULL, note TEXT NOT NULL, PRIMARY KEY (central_id, round_ref));
CREATE TABLE IF NOT EXISTS recommendations (
    central_id TEXT PRIMARY KEY, recommendation TEXT NOT NULL, visited_on TEXT NOT NULL, findings TEXT NOT NULL,
    receipt_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    central_id TEXT NOT NULL, kind TEXT NOT NULL, received_on TEXT NOT NULL, reason TEXT NOT NULL,
    resolution TEXT NOT NULL, receipt_id TEXT NOT NULL, PRIMARY KEY (central_id, kind, received_on, reason));
CREATE TABLE IF NOT EXISTS determinations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, determination_id TEXT UNIQUE, central_id TEXT NOT NULL,
    kk_number TEXT NOT NULL, regency TEXT NOT NULL, village_code TEXT NOT NULL, programme TEXT NOT NULL,
    period TEXT NOT NULL, status TEXT NOT NULL, receipt_id TEXT NOT NULL,
    UNIQUE (central_id, programme, period));
CREATE INDEX IF NOT EXISTS determinations_regency ON determinations (regency, seq);
CREATE INDEX IF NOT EXISTS determinations_receipt ON determinations (receipt_id, status);
CREATE TABLE IF NOT EXISTS desil_publications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, period TEXT NOT NULL UNIQUE, published_at TEXT NOT NULL,
    row_count INTEGER NOT NULL, page_size INTEGER NOT NULL, page_count INTEGER NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS desil_pages (
    period TEXT NOT NULL, page INTEGER NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (period, page));
CREATE TABLE IF NOT EXISTS desil_rows (
    period TEXT NOT NULL, position INTEGER NOT NULL, page INTEGER NOT NULL, central_id TEXT NOT NULL,
    desil INTEGER NOT NULL, score REAL NOT NULL, village_code TEXT, PRIMARY KEY (period, position));
CREATE INDEX IF NOT EXISTS desil_rows_page ON desil_rows (period, page, position);
"""

# Columns newer than the first mock, per table: added to an older data directory at start-up.
ADDED_COLUMNS = {
    "batches": {"deadline": "TEXT", "cycle": "TEXT"},
    "families": {"dusun": "TEXT NOT NULL DEFAULT ''", "rt": "TEXT NOT NULL DEFAULT ''",
                 "rw": "TEXT NOT NULL DEFAULT ''", "address": "TEXT NOT NULL DEFAULT ''", "latitude": "REAL",
                 "longitude": "REAL"},
    "desil_rows": {"village_code": "TEXT"},
}
ITEMS_PER_PAGE_SLOT = 1000  # ordinal = page * 1000 + position: page order, then position (at most 1000 a page)


def item_ordinal(page: int, position: int) -> int:
    return page * ITEMS_PER_PAGE_SLOT + position


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}  # table names are ours


def migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema; ``conn`` is inside a write transaction."""
    tables = _tables(conn)
    v1_submissions = "submissions" in tables and "body_json" in _columns(conn, "submissions")
    if v1_submissions:
        conn.execute("ALTER TABLE submissions RENAME TO submissions_v1")
    for table, columns in ADDED_COLUMNS.items():
        if table in tables:
            present = _columns(conn, table)
            for name, ddl in columns.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    if "batches" in tables:
        _backfill(conn, members="members" not in tables)
    if v1_submissions:
        _convert_v1_submissions(conn)
        conn.execute("DROP TABLE submissions_v1")


def _backfill(conn: sqlite3.Connection, *, members: bool) -> None:
    # Batches published before deadlines existed: the defaults a new batch would have had that day.
    conn.execute("UPDATE batches SET deadline = date(published_at, '+30 days'), "
                 "cycle = strftime('%Y', published_at) || '-Q' || ((CAST(strftime('%m', published_at) AS INTEGER)"
                 " + 2) / 3) WHERE deadline IS NULL OR cycle IS NULL")
    if not members:
        return
    # The older mock kept members and location only in the published documents: take them from there.
    conn.execute(
        "INSERT OR IGNORE INTO members (central_id, position, nik, life_status, added_by_round, member_json) "
        "SELECT bf.central_id, CAST(m.key AS INTEGER), json_extract(m.value, '$.nik'), "
        "COALESCE(json_extract(m.value, '$.life_status'), 'present'), NULL, m.value "
        "FROM batch_families bf, json_each(bf.family_json, '$.members') m")
    conn.execute(
        "UPDATE families SET dusun = j.dusun, rt = j.rt, rw = j.rw, address = j.address FROM ("
        "SELECT central_id, COALESCE(json_extract(family_json, '$.dusun'), '') AS dusun, "
        "COALESCE(json_extract(family_json, '$.rt'), '') AS rt, COALESCE(json_extract(family_json, '$.rw'), '') AS rw,"
        " COALESCE(json_extract(family_json, '$.address'), '') AS address FROM batch_families) AS j "
        "WHERE families.central_id = j.central_id")


def _convert_v1_submissions(conn: sqlite3.Connection) -> None:
    """Each v1 submission becomes a one-page v2 submission with the same receipt, key and body hash.

    Items of a submission the old mock decided carry its verdict (it decided whole submissions); undecided
    ones are decided by the v2 rules at the next ``accept-submissions``.
    """
    for old in conn.execute("SELECT * FROM submissions_v1 ORDER BY seq").fetchall():
        body = json.loads(old["body_json"])
        try:
            page = parse_page(body)
            header, items = page.header, page.items
        except (InvalidSubmission, UnsupportedProtocol):
            # Accepted by the laxer v1 checks only: keep the receipt, without items.
            header = {"protocol": 1, "page_count": 1, **{name: str(body.get(name) or "") for name in (
                "batch_id", "round_ref", "village_code", "programme")}}
            items = []
        outcome = {"accepted": "accepted", "rejected": "rejected"}.get(old["status"])
        conn.execute(
            "INSERT INTO submissions (seq, receipt_id, idempotency_key, protocol, batch_id, round_ref, village_code, "
            "programme, page_count, header_hash, status, received_at, completed_seq, decided_at, reason) "
            "VALUES (?, ?, ?, 1, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
            (old["seq"], old["receipt_id"], old["idempotency_key"], header["batch_id"], header["round_ref"],
             header["village_code"], header["programme"], checksum(header), old["status"], old["received_at"],
             old["seq"], old["decided_at"], old["reason"]))
        conn.execute("INSERT INTO submission_pages (submission_seq, page, body_hash, received_at) VALUES (?, 1, ?, ?)",
                     (old["seq"], old["body_hash"], old["received_at"]))
        conn.executemany(
            "INSERT INTO submission_items (submission_seq, ordinal, page, kind, ref, item_json, outcome, reason) "
            "VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
            [(old["seq"], item_ordinal(1, position), kind, item["ref"], json.dumps(item, ensure_ascii=False),
              outcome, old["reason"] if outcome == "rejected" else "")
             for position, (kind, item) in enumerate(items)])
