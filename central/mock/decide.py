"""How the mock centre decides one complete submission: item by item, then supersede, then determinations.

``decide_submission`` runs inside the store's write transaction. It reads everything the submission names in a
few set queries (families, their members, the NIK and KK holders, recommendations), decides the items in
memory in the protocol's kind order (results, member_changes, corrections, proposals, recommendations,
reports), undoes what an earlier submission of the same round did that this one does not repeat, creates or
withdraws determinations, and writes everything back with ``executemany``. Rejections carry short English
reasons; the rules are PROTOCOL-v2.md's ("Deciding").
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from .payload import (
    ATTR_FIELDS,
    DECIDE_ORDER,
    LOCATION_FIELDS,
    MEMBER_FIELDS,
    InvalidValue,
    check_member_value,
    check_value,
    kk_problem,
    nik_problem,
    parse_date,
)

KPM_DECISIONS = ("eligible", "corrected")
KPM_MAX_DESIL = 4  # a family at or below this desil is determined as KPM
LOCATION_COLUMNS = ("dusun", "rt", "rw", "address", "latitude", "longitude")


def regency_of(village_code: str) -> str:
    return ".".join(village_code.split(".")[:2])


def ids_param(values: Iterable[str]) -> str:
    """A JSON array for ``IN (SELECT value FROM json_each(?))``: one statement for any number of ids."""
    return json.dumps(sorted(set(values)))


@dataclass
class Family:
    """One family as the centre holds it, loaded for deciding and written back if changed."""

    central_id: str
    regency: str
    village_code: str
    kk_number: str
    attrs: dict
    location: dict
    members: list[dict]
    added_by: dict[str, str]  # NIK -> round_ref of the submission whose ``added`` item created the member
    desil: int = 0
    score: float = 0.0
    origin: str = ""
    new: bool = False
    dirty: bool = False
    members_dirty: bool = False

    def member(self, nik: str) -> dict | None:
        return next((member for member in self.members if member["nik"] == nik), None)

    @property
    def living(self) -> int:
        return sum(1 for member in self.members if member.get("life_status", "present") == "present")

    def has_living_head(self) -> bool:
        return any(member.get("relationship") == "head" and member.get("life_status", "present") == "present"
                   for member in self.members)


@dataclass
class Item:
    ordinal: int
    kind: str
    ref: str
    data: dict
    outcome: str = ""
    reason: str = ""
    new_central_id: str | None = None


@dataclass
class Summary:
    status: str
    accepted: int
    rejected: int
    determinations: int
    withdrawn: int


@dataclass
class _Earlier:
    seq: int
    receipt_id: str
    items: list[Item] = field(default_factory=list)


class Decider:
    """Decides one submission (a ``submissions`` row whose every page is stored)."""

    def __init__(self, conn: sqlite3.Connection, submission: sqlite3.Row, *, today: dt.date):
        self.conn, self.today = conn, today
        self.seq, self.receipt_id = submission["seq"], submission["receipt_id"]
        self.round_ref, self.village = submission["round_ref"], submission["village_code"]
        self.programme = submission["programme"]
        self.families: dict[str, Family] = {}
        self.unknown: set[str] = set()
        self.holders: dict[str, dict[str, str]] = {}  # NIK -> {central_id: life_status} across the centre
        self.kk_families: dict[str, set[str]] = {}  # KK -> central ids holding it
        self.recommendations: dict[str, dict] = {}
        self.changed_recommendations: set[str] = set()
        self.reports: list[tuple] = []
        self.results: dict[str, dict] = {}  # central id -> this submission's accepted result
        self.dropped_results: set[str] = set()  # final results of an earlier submission this one drops
        self.proposal_ids: dict[str, str] = {}  # proposal ref -> central id of the accepted proposal
        self.proposal_kks: set[str] = set()
        self.proposal_sequence = conn.execute(
            "SELECT COALESCE((SELECT value FROM counters WHERE name = 'proposals_accepted'), 0)").fetchone()[0]
        self.items = [Item(row["ordinal"], row["kind"], row["ref"], json.loads(row["item_json"])) for row in
                      conn.execute("SELECT ordinal, kind, ref, item_json FROM submission_items "
                                   "WHERE submission_seq = ? ORDER BY ordinal", (self.seq,))]
        self.earlier = self._standing_earlier()

    # Loading ------------------------------------------------------------------------------------------------

    def _standing_earlier(self) -> list[_Earlier]:
        """Decided submissions of the same round that no later one has superseded yet (normally one).

        A round is one village's: a submission of another village naming the same round_ref supersedes nothing.
        """
        if not self.round_ref:
            return []
        earlier = [_Earlier(row["seq"], row["receipt_id"]) for row in self.conn.execute(
            "SELECT seq, receipt_id FROM submissions WHERE round_ref = ? AND village_code = ? AND seq != ? "
            "AND superseded_by IS NULL AND status IN ('accepted', 'partial', 'rejected') ORDER BY completed_seq",
            (self.round_ref, self.village, self.seq))]
        for submission in earlier:
            rows = self.conn.execute(
                "SELECT ordinal, kind, ref, item_json FROM submission_items WHERE submission_seq = ? "
                "AND outcome = 'accepted' AND kind IN ('result', 'correction', 'member_change') ORDER BY ordinal",
                (submission.seq,))
            submission.items = [Item(row["ordinal"], row["kind"], row["ref"], json.loads(row["item_json"]), "accepted")
                                for row in rows]
        return earlier

    def _prefetch(self) -> None:
        central_ids, niks, kks = set(), set(), set()
        for item in self.items + [item for earlier in self.earlier for item in earlier.items]:
            if item.data.get("central_id"):
                central_ids.add(item.data["central_id"])
            if item.kind == "member_change":
                if item.data["change"] == "added":
                    niks.add(item.data["nik"])
                elif item.data["change"] == "corrected" and isinstance(
                        item.data["fields"].get("nik", {}).get("after"), str):
                    niks.add(item.data["fields"]["nik"]["after"])
            elif item.kind == "proposal":
                kks.add(item.data["kk_number"])
                niks.update(member["nik"] for member in item.data["members"])
        for row in self.conn.execute("SELECT central_id, kk_number FROM families WHERE kk_number IN "
                                     "(SELECT value FROM json_each(?))", (ids_param(kks),)):
            self.kk_families.setdefault(row["kk_number"], set()).add(row["central_id"])
            central_ids.add(row["central_id"])
        for row in self.conn.execute("SELECT central_id, nik, life_status FROM members WHERE nik IN "
                                     "(SELECT value FROM json_each(?))", (ids_param(niks),)):
            self.holders.setdefault(row["nik"], {})[row["central_id"]] = row["life_status"]
        self._load(central_ids)

    def _load(self, central_ids: Iterable[str]) -> None:
        wanted = ids_param(cid for cid in central_ids if cid not in self.families and cid not in self.unknown)
        members: dict[str, list[sqlite3.Row]] = {}
        for row in self.conn.execute("SELECT central_id, nik, added_by_round, member_json FROM members WHERE "
                                     "central_id IN (SELECT value FROM json_each(?)) ORDER BY central_id, position",
                                     (wanted,)):
            members.setdefault(row["central_id"], []).append(row)
        for row in self.conn.execute("SELECT * FROM families WHERE central_id IN (SELECT value FROM json_each(?))",
                                     (wanted,)):
            rows = members.get(row["central_id"], [])
            self.families[row["central_id"]] = Family(
                central_id=row["central_id"], regency=row["regency"], village_code=row["village_code"],
                kk_number=row["kk_number"], attrs=json.loads(row["attrs_json"]),
                location={name: row[name] for name in LOCATION_COLUMNS},
                members=[{"life_event_date": None, **json.loads(m["member_json"])} for m in rows],
                added_by={m["nik"]: m["added_by_round"] for m in rows if m["added_by_round"]},
                desil=row["desil"], score=row["score"], origin=row["origin"])
        for row in self.conn.execute("SELECT * FROM recommendations WHERE central_id IN "
                                     "(SELECT value FROM json_each(?))", (wanted,)):
            self.recommendations[row["central_id"]] = dict(row)
        self.unknown.update(cid for cid in json.loads(wanted) if cid not in self.families)

    def family(self, central_id: str) -> Family | None:
        if central_id not in self.families and central_id not in self.unknown:
            self._load([central_id])  # only for what the prefetch could not foresee
        return self.families.get(central_id)

    # Helpers ------------------------------------------------------------------------------------------------

    def _target(self, central_id: str) -> tuple[Family | None, str]:
        family = self.family(central_id)
        if family is None:
            return None, f"unknown central_id {central_id}"
        if family.village_code != self.village:
            return None, f"family {central_id} belongs to village {family.village_code}"
        return family, ""

    def _held_elsewhere(self, nik: str, central_id: str | None) -> str | None:
        """The family (other than ``central_id``) holding ``nik``; a member who moved out holds it no more."""
        for other, status in sorted(self.holders.get(nik, {}).items()):
            if other != central_id and status != "moved":
                return other
        return None

    def _hold(self, nik: str, central_id: str, status: str | None) -> None:
        holders = self.holders.setdefault(nik, {})
        if status is None:
            holders.pop(central_id, None)
        else:
            holders[central_id] = status

    def _life_date(self, item: Item) -> str | None:
        """The date of a deceased/moved change, or None after rejecting the item."""
        date = item.data.get("date")
        if date is None:
            return self._reject(item, f"date is required for {item.data['change']}")
        parsed = parse_date(date)
        if parsed is None or parsed > self.today:
            return self._reject(item, f"invalid date {date}")
        return date

    @staticmethod
    def _reject(item: Item, reason: str) -> None:
        item.outcome, item.reason = "rejected", reason
        return None

    @staticmethod
    def _accept(item: Item, new_central_id: str | None = None) -> None:
        item.outcome, item.new_central_id = "accepted", new_central_id

    # Deciding -------------------------------------------------------------------------------------------------

    def run(self) -> Summary:
        self._prefetch()
        by_kind = {kind: [item for item in self.items if item.kind == kind] for kind in DECIDE_ORDER}
        for kind in DECIDE_ORDER:
            decide = getattr(self, f"_decide_{kind}")
            for item in by_kind[kind]:
                decide(item)
        self._supersede()
        determinations = self._determine()
        withdrawn = self._withdraw()
        accepted = sum(item.outcome == "accepted" for item in self.items)
        rejected = len(self.items) - accepted
        status = "accepted" if not rejected else "rejected" if not accepted else "partial"
        self._write(status, accepted, rejected)
        return Summary(status, accepted, rejected, determinations, withdrawn)

    def _decide_result(self, item: Item) -> None:
        family, reason = self._target(item.data["central_id"])
        if family is None:
            return self._reject(item, reason)
        if family.central_id in self.results:
            return self._reject(item, f"duplicate result for family {family.central_id} in this submission")
        self.results[family.central_id] = item.data
        self._accept(item)

    def _decide_member_change(self, item: Item) -> None:
        family, reason = self._target(item.data["central_id"])
        if family is None:
            return self._reject(item, reason)
        change, nik = item.data["change"], item.data["nik"]
        if change == "added":
            return self._member_added(item, family, nik)
        member = family.member(nik)
        if member is None and change == "corrected":
            # The round sent again after a re-check: its NIK correction is already applied here, so the
            # person is found under the corrected NIK and the rest of the item applies as before.
            after = (item.data["fields"].get("nik") or {}).get("after")
            member = family.member(after) if isinstance(after, str) else None
        if member is None:
            return self._reject(item, f"NIK {nik} is not a member of family {family.central_id}")
        if change in ("deceased", "moved"):
            date = self._life_date(item)
            if date is None:
                return None
            member.update(life_status=change, life_event_date=date)
            self._hold(nik, family.central_id, change)
        else:
            if not self._member_corrected(item, family, member):
                return None
        family.members_dirty = family.dirty = True
        self._accept(item)

    def _member_added(self, item: Item, family: Family, nik: str) -> None:
        if nik_problem(nik, self.today):
            return self._reject(item, f"invalid NIK {nik}")
        if self._held_elsewhere(nik, family.central_id):
            return self._reject(item, f"NIK {nik} is registered to another family")
        date = item.data.get("date")
        if date is not None and (parse_date(date) is None or parse_date(date) > self.today):
            return self._reject(item, f"invalid date {date}")
        new = dict(item.data["member"])
        existing = family.member(nik)
        if existing is not None:
            # Adding a member the family already has (a resent or superseding submission) updates it.
            existing.update(new)
        else:
            family.members.append(new)
            if self.round_ref:
                family.added_by[nik] = self.round_ref
        self._hold(nik, family.central_id, new["life_status"])
        family.members_dirty = family.dirty = True
        self._accept(item)

    def _member_corrected(self, item: Item, family: Family, member: dict) -> bool:
        changes = {}
        for name, values in item.data["fields"].items():
            if name not in MEMBER_FIELDS:
                self._reject(item, f"unknown field {name}")
                return False
            try:
                changes[name] = check_member_value(name, values["after"])
            except InvalidValue:
                self._reject(item, f"invalid value for {name}")
                return False
        new_nik = changes.get("nik", member["nik"])
        if new_nik != member["nik"]:
            if nik_problem(new_nik, self.today):
                self._reject(item, f"invalid NIK {new_nik}")
                return False
            if family.member(new_nik) is not None:
                self._reject(item, f"NIK {new_nik} is already a member of family {family.central_id}")
                return False
            if self._held_elsewhere(new_nik, family.central_id):
                self._reject(item, f"NIK {new_nik} is registered to another family")
                return False
            self._hold(member["nik"], family.central_id, None)
            if member["nik"] in family.added_by:
                family.added_by[new_nik] = family.added_by.pop(member["nik"])
        member.update(changes)
        self._hold(member["nik"], family.central_id, member["life_status"])
        return True

    def _decide_correction(self, item: Item) -> None:
        family, reason = self._target(item.data["central_id"])
        if family is None:
            return self._reject(item, reason)
        name = item.data["field"]
        if name not in ATTR_FIELDS and name not in LOCATION_FIELDS:
            return self._reject(item, f"unknown field {name}")
        try:
            after = check_value(name, item.data["after"])
            if item.data.get("before") is not None:
                check_value(name, item.data["before"])
        except InvalidValue:
            return self._reject(item, f"invalid value for {name}")
        self._set_field(family, name, after)
        self._accept(item)

    @staticmethod
    def _set_field(family: Family, name: str, value) -> None:
        if name in LOCATION_FIELDS:
            family.location[name] = value
        else:
            family.attrs[name] = value
        family.dirty = True

    def _decide_proposal(self, item: Item) -> None:
        data = item.data
        kk, village = data["kk_number"], data.get("village_code") or self.village
        if kk in self.proposal_kks:
            return self._reject(item, f"duplicate proposal for KK {kk} in this submission")
        if not any(member["relationship"] == "head" for member in data["members"]):
            return self._reject(item, "no head of family")
        if kk_problem(kk, self.today):
            return self._reject(item, f"invalid KK {kk}")
        niks = [member["nik"] for member in data["members"]]
        for nik in niks:
            if nik_problem(nik, self.today):
                return self._reject(item, f"invalid NIK {nik}")
        duplicate = next((nik for index, nik in enumerate(niks) if nik in niks[:index]), None)
        if duplicate:
            return self._reject(item, f"duplicate NIK {duplicate} in the proposal")
        attrs, location = {}, {}
        for name, value in data["attrs"].items():
            if name not in ATTR_FIELDS:
                return self._reject(item, f"unknown field {name}")
            try:
                attrs[name] = check_value(name, value)
            except InvalidValue:
                return self._reject(item, f"invalid value for {name}")
        for name in LOCATION_COLUMNS:
            try:
                location[name] = check_value(name, data.get(name))
            except InvalidValue:
                return self._reject(item, f"invalid value for {name}")
        holders = sorted(self.kk_families.get(kk, set()))
        again = next((cid for cid in holders if self.families[cid].origin.startswith("proposal:")
                      and self.families[cid].village_code == village), None)
        other = next((cid for cid in holders if cid != again), None)
        if other:
            return self._reject(item, f"KK {kk} is already registered (family {other})")
        for nik in niks:
            holder = self._held_elsewhere(nik, again)
            if holder:
                return self._reject(item, f"NIK {nik} is already registered (family {holder})")
        family = self.families[again] if again else self._new_family(village, kk)
        for member in family.members:
            self._hold(member["nik"], family.central_id, None)
        family.attrs, family.location = attrs, location
        family.members, family.added_by = [dict(member) for member in data["members"]], {}
        for member in family.members:
            self._hold(member["nik"], family.central_id, member["life_status"])
        family.dirty = family.members_dirty = True
        self.proposal_kks.add(kk)
        self.proposal_ids[item.ref] = family.central_id
        self._accept(item, family.central_id)

    def _new_family(self, village: str, kk: str) -> Family:
        self.proposal_sequence += 1
        central_id = f"P{village.replace('.', '')}{self.proposal_sequence:06d}"
        # Score and desil stay 0 until the next desil publication ranks the new family.
        family = Family(central_id=central_id, regency=regency_of(village), village_code=village, kk_number=kk,
                        attrs={}, location={}, members=[], added_by={}, origin=f"proposal:{self.receipt_id}",
                        new=True)
        self.families[central_id] = family
        self.kk_families.setdefault(kk, set()).add(central_id)
        return family

    def _report_target(self, item: Item) -> Family | None:
        if "proposal_ref" in item.data:
            central_id = self.proposal_ids.get(item.data["proposal_ref"])
            if central_id is None:
                return self._reject(item, f"proposal_ref {item.data['proposal_ref']} is not an accepted proposal "
                                          "of this submission")
            return self.families[central_id]
        family, reason = self._target(item.data["central_id"])
        return family if family is not None else self._reject(item, reason)

    def _decide_recommendation(self, item: Item) -> None:
        family = self._report_target(item)
        if family is None:
            return None
        current = self.recommendations.get(family.central_id)
        # The latest visit counts; of two on the same day, the one decided later.
        if current is None or item.data["visited_on"] >= current["visited_on"]:
            self.recommendations[family.central_id] = {
                "central_id": family.central_id, "recommendation": item.data["recommendation"],
                "visited_on": item.data["visited_on"], "findings": item.data.get("findings", ""),
                "receipt_id": self.receipt_id}
            self.changed_recommendations.add(family.central_id)
        self._accept(item)

    def _decide_report(self, item: Item) -> None:
        family = self._report_target(item)
        if family is None:
            return None
        data = item.data
        self.reports.append((family.central_id, data["kind"], data["received_on"], data["reason"],
                             data["resolution"], self.receipt_id))
        self._accept(item)

    # Supersede and determinations -----------------------------------------------------------------------------

    def _supersede(self) -> None:
        """The newer submission of a round stands: undo what the earlier did and this one does not repeat."""
        if not self.earlier:
            return
        accepted = [item for item in self.items if item.outcome == "accepted"]
        corrected = {(i.data["central_id"], i.data["field"]) for i in accepted if i.kind == "correction"}
        changes = {(i.data["central_id"], i.data["nik"], i.data["change"]) for i in accepted
                   if i.kind == "member_change"}
        life = {(cid, nik) for cid, nik, change in changes if change in ("deceased", "moved")}
        for earlier in self.earlier:
            restored = set()
            for item in earlier.items:
                cid = item.data["central_id"]
                family = self.family(cid)
                if item.kind == "result" and cid not in self.results:
                    self.dropped_results.add(cid)
                if family is None:
                    continue
                if item.kind == "correction":
                    key = (cid, item.data["field"])
                    # The first correction of a field holds the value before the round touched it.
                    if key not in corrected and key not in restored and item.data.get("before") is not None:
                        self._set_field(family, item.data["field"], check_value(item.data["field"],
                                                                                item.data["before"]))
                        restored.add(key)
                elif item.kind == "member_change":
                    self._undo_member_change(family, item.data, changes, life)

    def _undo_member_change(self, family: Family, data: dict, changes: set, life: set) -> None:
        nik, change = data["nik"], data["change"]
        member = family.member(nik)
        if member is None:
            return
        if change == "added" and (family.central_id, nik, "added") not in changes \
                and family.added_by.get(nik) == self.round_ref:
            family.members.remove(member)
            family.added_by.pop(nik, None)
            self._hold(nik, family.central_id, None)
            family.members_dirty = family.dirty = True
        elif change in ("deceased", "moved") and (family.central_id, nik) not in life:
            member.update(life_status="present", life_event_date=None)
            self._hold(nik, family.central_id, "present")
            family.members_dirty = family.dirty = True

    def _qualifies(self, central_id: str) -> bool:
        result, family = self.results.get(central_id), self.families.get(central_id)
        recommendation = self.recommendations.get(central_id)
        return bool(result and family and result["decision"] in KPM_DECISIONS
                    and 1 <= family.desil <= KPM_MAX_DESIL
                    and (recommendation is None or recommendation["recommendation"] != "stop")
                    and family.has_living_head())

    def _determine(self) -> int:
        """One determination per family, programme and month for every qualifying accepted result."""
        period = self.today.strftime("%Y-%m")
        qualifying = [cid for cid in self.results if self._qualifies(cid)]
        existing = {row["central_id"]: row for row in self.conn.execute(
            "SELECT seq, central_id, status FROM determinations WHERE programme = ? AND period = ? AND central_id IN "
            "(SELECT value FROM json_each(?))", (self.programme, period, ids_param(qualifying)))}
        fresh = [self.families[cid] for cid in qualifying if cid not in existing]
        self.conn.executemany(
            "INSERT INTO determinations (central_id, kk_number, regency, village_code, programme, period, status, "
            "receipt_id) VALUES (?, ?, ?, ?, ?, ?, 'kpm', ?)",
            [(f.central_id, f.kk_number, f.regency, f.village_code, self.programme, period, self.receipt_id)
             for f in fresh])
        self.conn.execute("UPDATE determinations SET determination_id = 'D-' || printf('%06d', seq) "
                          "WHERE determination_id IS NULL")
        again = [row["seq"] for cid, row in existing.items() if row["status"] == "withdrawn"]
        self._renumber(again, "kpm")
        return len(fresh) + len(again)

    def _withdraw(self) -> int:
        """Determinations an earlier submission of this round made for families that no longer qualify."""
        if not self.earlier:
            return 0
        receipts = [row[0] for row in self.conn.execute(
            "SELECT receipt_id FROM submissions WHERE round_ref = ? AND village_code = ? AND seq != ? "
            "AND decided_at IS NOT NULL", (self.round_ref, self.village, self.seq))]
        rows = self.conn.execute("SELECT seq, central_id FROM determinations WHERE status = 'kpm' AND receipt_id IN "
                                 "(SELECT value FROM json_each(?))", (ids_param(receipts),)).fetchall()
        self._load(row["central_id"] for row in rows)
        withdrawn = [row["seq"] for row in rows if not self._qualifies(row["central_id"])]
        self._renumber(withdrawn, "withdrawn")
        return len(withdrawn)

    def _renumber(self, seqs: list[int], status: str) -> None:
        """Give changed determinations new sequence numbers, so clients see them again after their cursor."""
        if not seqs:
            return
        top = self.conn.execute("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'determinations'),"
                                " 0), COALESCE((SELECT MAX(seq) FROM determinations), 0))").fetchone()[0]
        self.conn.executemany("UPDATE determinations SET seq = ?, status = ?, receipt_id = ? WHERE seq = ?",
                              [(top + n, status, self.receipt_id, seq) for n, seq in enumerate(seqs, start=1)])
        # AUTOINCREMENT only remembers inserts: record the new top so no later insert reuses a number.
        self.conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'determinations'", (top + len(seqs),))

    # Writing back -----------------------------------------------------------------------------------------------

    def _write(self, status: str, accepted: int, rejected: int) -> None:
        conn = self.conn
        new = [f for f in self.families.values() if f.new]
        conn.executemany(
            "INSERT INTO families (central_id, regency, village_code, kk_number, attrs_json, living_members, score, "
            "desil, origin, dusun, rt, rw, address, latitude, longitude) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?)",
            [(f.central_id, f.regency, f.village_code, f.kk_number, json.dumps(f.attrs), f.living, f.origin,
              *(f.location.get(name) if name in ("latitude", "longitude") else f.location.get(name) or ""
                for name in LOCATION_COLUMNS)) for f in new])
        conn.executemany(
            "UPDATE families SET attrs_json = ?, living_members = ?, dusun = ?, rt = ?, rw = ?, address = ?, "
            "latitude = ?, longitude = ? WHERE central_id = ?",
            [(json.dumps(f.attrs), f.living, *(f.location.get(name) for name in LOCATION_COLUMNS), f.central_id)
             for f in self.families.values() if f.dirty and not f.new])
        rewritten = [f for f in self.families.values() if f.members_dirty]
        conn.execute("DELETE FROM members WHERE central_id IN (SELECT value FROM json_each(?))",
                     (ids_param(f.central_id for f in rewritten),))
        conn.executemany(
            "INSERT INTO members (central_id, position, nik, life_status, added_by_round, member_json) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(f.central_id, position, m["nik"], m["life_status"], f.added_by.get(m["nik"]),
              json.dumps(m, ensure_ascii=False)) for f in rewritten for position, m in enumerate(f.members)])
        conn.executemany("INSERT OR IGNORE INTO identifiers (number) VALUES (?)",
                         [(number,) for number in {m["nik"] for f in rewritten for m in f.members}
                          | {f.kk_number for f in new}])
        conn.executemany(
            "UPDATE submission_items SET outcome = ?, reason = ?, new_central_id = ? WHERE submission_seq = ? "
            "AND ordinal = ?",
            [(item.outcome, item.reason, item.new_central_id, self.seq, item.ordinal) for item in self.items])
        conn.executemany("DELETE FROM final_results WHERE central_id = ? AND round_ref = ?",
                         [(cid, self.round_ref) for cid in self.dropped_results])
        conn.executemany(
            "INSERT OR REPLACE INTO final_results (central_id, round_ref, receipt_id, decision, reason, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(cid, self.round_ref, self.receipt_id, result["decision"], result["reason"], result.get("note", ""))
             for cid, result in self.results.items()])
        conn.executemany(
            "INSERT OR REPLACE INTO recommendations (central_id, recommendation, visited_on, findings, receipt_id) "
            "VALUES (:central_id, :recommendation, :visited_on, :findings, :receipt_id)",
            [self.recommendations[cid] for cid in sorted(self.changed_recommendations)])
        conn.executemany(
            "INSERT INTO reports (central_id, kind, received_on, reason, resolution, receipt_id) VALUES "
            "(?, ?, ?, ?, ?, ?) ON CONFLICT (central_id, kind, received_on, reason) DO UPDATE SET "
            "resolution = excluded.resolution, receipt_id = excluded.receipt_id", self.reports)
        conn.execute("INSERT INTO counters (name, value) VALUES ('proposals_accepted', ?) "
                     "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (self.proposal_sequence,))
        conn.executemany("UPDATE submissions SET superseded_by = ? WHERE seq = ?",
                         [(self.receipt_id, earlier.seq) for earlier in self.earlier])
        reason = None
        if rejected:
            reason = f"{rejected} of {accepted + rejected} items rejected"
        conn.execute("UPDATE submissions SET status = ?, decided_at = ?, reason = ? WHERE seq = ?",
                     (status, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), reason, self.seq))


def decide_submission(conn: sqlite3.Connection, submission: sqlite3.Row, *, today: dt.date) -> Summary:
    """Decide one complete submission and apply what it carries; see the module docstring."""
    return Decider(conn, submission, today=today).run()
