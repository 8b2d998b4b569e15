"""Deterministic synthetic households for real villages: the demo's and the mock central's population.

Pure Python, no database: ``generate_households`` returns plain data classes that ``seed_demo`` writes to
the register and the mock central serves over HTTP. Every family draws a hidden welfare level; its house,
assets, schooling and work follow that level with noise, and its desil is then *computed* from those
variables by the PMT formula (``registry.pmt``), so desil correlates with what a verifier can see.
NIK and KK numbers are valid for the village's kecamatan and the member's birth date (women: day + 40).
"""
from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from .pmt import pmt_score, rank_deciles

MALE_NAMES = (
    "Ahmad", "Budi", "Joko", "Agus", "Slamet", "Hendra", "Rudi", "Darmawan", "Sutrisno", "Bambang", "Andi",
    "Fajar", "Rizky", "Dedi", "Hasan", "Ismail", "Iwan", "Eko", "Yusuf", "Rahmat", "Irfan", "Taufik",
    "Herman", "Gunawan", "Wahyu", "Arif", "Doni", "Bayu", "Teguh", "Muhammad", "Syahrul", "Zulkifli",
    "Supriadi", "Mulyadi", "Suhendra", "Ridwan", "Amir", "Fauzi", "Hamdan", "Sugianto",
)
FEMALE_NAMES = (
    "Siti", "Sri", "Nur", "Dewi", "Rina", "Wati", "Fitri", "Ani", "Yuni", "Lestari", "Ratna", "Sari",
    "Nurhayati", "Rosmawati", "Mariani", "Putri", "Ayu", "Indah", "Wulan", "Mega", "Rahmawati", "Suryani",
    "Hartini", "Juliana", "Rohani", "Fatimah", "Aisyah", "Dina", "Lina", "Evi", "Nurlela", "Masitah",
    "Ernawati", "Yusnani", "Halimah", "Sumiati",
)
SECOND_NAMES = (
    "Pratama", "Saputra", "Hidayat", "Setiawan", "Kurniawan", "Syahputra", "Wijaya", "Santoso", "Lestari",
    "Rahayu", "Handayani", "Utami", "Wahyuni", "Anggraini", "Permata", "Sari",
)
# Marga common in North Sumatra; children take their father's.
MARGA = (
    "Siregar", "Nasution", "Lubis", "Harahap", "Hasibuan", "Simanjuntak", "Sitorus", "Manurung", "Sinaga",
    "Pane", "Situmorang", "Panjaitan", "Tambunan", "Damanik", "Saragih", "Purba", "Ginting", "Tarigan",
    "Sembiring", "Pohan", "Rangkuti", "Batubara",
)
STREETS = ("Jl. Merdeka", "Jl. Sudirman", "Jl. Pendidikan", "Jl. Masjid", "Jl. Lintas Sumatera", "Jl. Pasar",
           "Jl. Kebun", "Jl. Sei Silau", "Jl. Perintis", "Gg. Mawar", "Gg. Melati", "Gg. Damai")
DUSUN = ("Dusun I", "Dusun II", "Dusun III", "Dusun IV", "Dusun V", "Dusun VI")
# (occupation, welfare level at which it is typical), drawn near the family's level.
OCCUPATIONS = (
    ("Belum/tidak bekerja", 0.05), ("Buruh harian lepas", 0.12), ("Buruh tani/perkebunan", 0.18),
    ("Nelayan", 0.22), ("Petani/pekebun", 0.35), ("Tukang bangunan", 0.3), ("Sopir", 0.45),
    ("Pedagang", 0.55), ("Wiraswasta", 0.65), ("Karyawan swasta", 0.7), ("Guru", 0.8),
    ("Pegawai negeri sipil", 0.88), ("Pensiunan", 0.6),
)
EDUCATION = ("none", "sd", "smp", "sma", "diploma", "bachelor", "postgrad")
# Housing variables listed worst to best; a family's welfare picks a position with noise.
LADDERS = {
    "floor_type": ("earth", "bamboo", "wood", "cement", "tile", "ceramic", "marble"),
    "wall_type": ("bamboo", "woven_bamboo", "wood", "plastered_bamboo", "brick"),
    "roof_type": ("thatch", "bamboo", "wood", "zinc", "clay_tile", "concrete"),
    "water_source": ("surface", "unprotected_spring", "unprotected_well", "protected_well", "borehole",
                     "piped", "refill", "bottled"),
    "lighting": ("none", "non_pln", "pln_unmetered", "pln_metered"),
    "cooking_fuel": ("firewood", "charcoal", "kerosene", "lpg_3kg", "lpg_large", "electric"),
    "toilet": ("none", "public", "shared", "own"),
    "house_ownership": ("rent_free", "rent", "own", "own", "own"),
}
# Asset -> (probability for the poorest, probability for the richest).
ASSETS = {
    "has_lpg_large": (0.0, 0.5), "has_refrigerator": (0.05, 0.95), "has_air_conditioner": (0.0, 0.6),
    "has_water_heater": (0.0, 0.5), "has_flat_tv": (0.05, 0.9), "has_gold": (0.02, 0.6),
    "has_computer": (0.0, 0.7), "has_motorcycle": (0.3, 0.95), "has_car": (0.0, 0.5), "has_boat": (0.03, 0.08),
    "has_land": (0.05, 0.6), "has_livestock": (0.25, 0.2),
}
FAMILY_SIZES = ((1, 7), (2, 14), (3, 22), (4, 25), (5, 16), (6, 9), (7, 5), (8, 2))


@dataclass
class MemberData:
    nik: str
    name: str
    sex: str
    birth_place: str
    birth_date: dt.date
    relationship: str
    education: str
    occupation: str
    disability: str = "none"
    life_status: str = "present"


@dataclass
class FamilyData:
    central_id: str
    kk_number: str
    village_code: str
    dusun: str
    rt: str
    rw: str
    address: str
    attrs: dict  # coded Regsosek housing/asset variables, field name -> value
    members: list[MemberData] = field(default_factory=list)
    score: float = 0.0
    desil: int = 0
    # Earlier publications, oldest first: (period, desil, score).
    desil_history: list[tuple[dt.date, int, float]] = field(default_factory=list)

    @property
    def living_members(self) -> int:
        return sum(1 for m in self.members if m.life_status == "present")

    def as_json(self) -> dict:
        """A JSON-ready dict (dates as ISO strings), the shape the mock central serves."""
        data = asdict(self)
        data["members"] = [{**m, "birth_date": m["birth_date"].isoformat()} for m in data["members"]]
        data["desil_history"] = [
            {"period": p.isoformat(), "desil": d, "score": s} for p, d, s in self.desil_history]
        return data


def publication_periods(as_of: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` monthly desil publications (on the 20th) on or before ``as_of``, oldest first."""
    year, month = as_of.year, as_of.month
    if as_of.day < 20:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    periods = []
    for _ in range(count):
        periods.append(dt.date(year, month, 20))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return periods[::-1]


class _Numbering:
    """Unique NIK/KK serials per 12-digit prefix (kecamatan + date), as the civil registry issues them.

    ``base`` shifts the serials, so two populations of the same villages (the demo register and the mock
    centre's data awal) never share a number."""

    def __init__(self, base: int = 0):
        self._next: dict[str, int] = defaultdict(lambda: base + 1)

    def issue(self, prefix: str) -> str:
        serial = self._next[prefix]
        if serial > 9999:
            raise ValueError(f"more than 9999 numbers for prefix {prefix}")
        self._next[prefix] = serial + 1
        return f"{prefix}{serial:04d}"


def _ladder(rng: random.Random, options: tuple, welfare: float, noise: float = 0.18) -> str:
    position = welfare + rng.gauss(0, noise)
    index = round(min(max(position, 0.0), 1.0) * (len(options) - 1))
    return options[index]


def _birth_date(rng: random.Random, as_of: dt.date, age: int) -> dt.date:
    born = as_of.replace(year=as_of.year - age) if not (as_of.month == 2 and as_of.day == 29) \
        else dt.date(as_of.year - age, 2, 28)
    return born - dt.timedelta(days=rng.randrange(365))


def _nik(numbers: _Numbering, kecamatan_digits: str, birth: dt.date, sex: str) -> str:
    day = birth.day + (40 if sex == "P" else 0)
    return numbers.issue(f"{kecamatan_digits}{day:02d}{birth:%m%y}")


def _education(rng: random.Random, welfare: float, age: int) -> str:
    if age < 7:
        return "none"
    top = 1 if age < 13 else 2 if age < 16 else 3 if age < 19 else len(EDUCATION) - 1
    level = round(min(max(welfare * 5 + rng.gauss(0.8, 1.0), 0), top))
    return EDUCATION[level]


def _occupation(rng: random.Random, welfare: float, age: int, relationship: str, sex: str) -> str:
    if age < 18:
        return "Pelajar/mahasiswa" if age >= 6 else "Belum/tidak bekerja"
    if relationship == "spouse" and sex == "P" and rng.random() < 0.6:
        return "Mengurus rumah tangga"
    if age >= 65 and rng.random() < 0.5:
        return "Pensiunan" if welfare > 0.6 else "Belum/tidak bekerja"
    return min(OCCUPATIONS, key=lambda o: abs(o[1] - welfare) + rng.random() * 0.25)[0]


def _family_size(rng: random.Random, welfare: float) -> int:
    size = rng.choices([s for s, _w in FAMILY_SIZES], weights=[w for _s, w in FAMILY_SIZES])[0]
    # Poorer families tend to be a little larger.
    if welfare < 0.3 and size < 8 and rng.random() < 0.25:
        size += 1
    return size


def _members(rng, numbers, village_code, village_name, welfare, as_of) -> list[MemberData]:
    kecamatan_digits = village_code.replace(".", "")[:6]
    size = _family_size(rng, welfare)
    marga = rng.choice(MARGA) if rng.random() < 0.5 else ""
    head_sex = "L" if (size > 1 and rng.random() < 0.9) or rng.random() < 0.6 else "P"
    head_age = rng.randint(23, 78) if size > 1 else rng.randint(25, 85)

    def person(sex: str, age: int, relationship: str, surname: str = "") -> MemberData:
        first = rng.choice(MALE_NAMES if sex == "L" else FEMALE_NAMES)
        second = rng.choice(SECOND_NAMES) if not surname and rng.random() < 0.45 else ""
        name = " ".join(part for part in (first, second, surname) if part)
        birth = _birth_date(rng, as_of, age)
        return MemberData(
            nik=_nik(numbers, kecamatan_digits, birth, sex), name=name, sex=sex,
            birth_place=village_name.title() if rng.random() < 0.7 else rng.choice(("Medan", "Kisaran",
                                                                                     "Tanjung Balai")),
            birth_date=birth, relationship=relationship, education=_education(rng, welfare, age),
            occupation=_occupation(rng, welfare, age, relationship, sex),
            disability="none" if rng.random() > 0.03 else rng.choice(("physical", "sensory", "intellectual")),
        )

    members = [person(head_sex, head_age, "head", marga if head_sex == "L" else "")]
    remaining = size - 1
    if remaining and head_age < 75 and rng.random() < 0.85:
        spouse_sex = "P" if head_sex == "L" else "L"
        spouse_age = max(18, head_age + rng.randint(-8, 3) * (1 if head_sex == "L" else -1))
        members.append(person(spouse_sex, spouse_age, "spouse", marga if spouse_sex == "L" else ""))
        remaining -= 1
    if remaining and head_age > 45 and rng.random() < 0.12:
        members.append(person(rng.choice("LP"), min(head_age + rng.randint(20, 30), 95), "parent"))
        remaining -= 1
    for _ in range(remaining):
        max_child_age = max(head_age - 18, 0)
        age = rng.randint(0, max_child_age) if max_child_age else 0
        relationship = "child" if age < head_age - 35 or rng.random() < 0.9 else "grandchild"
        members.append(person(rng.choice("LP"), age, relationship, marga))
    # A few people on the card have died or moved away since data collection: work for the verifier.
    for member in members[1:]:
        roll = rng.random()
        if roll < 0.012:
            member.life_status = "deceased"
        elif roll < 0.03:
            member.life_status = "moved"
    return members


def _attrs(rng: random.Random, welfare: float, size: int) -> dict:
    attrs = {variable: _ladder(rng, options, welfare) for variable, options in LADDERS.items()}
    attrs["floor_area_m2"] = max(12, int(rng.gauss(18 + welfare * 110, 12 + welfare * 20) + size * 4))
    for asset, (poorest, richest) in ASSETS.items():
        attrs[asset] = rng.random() < poorest + (richest - poorest) * welfare
    return attrs


def generate_households(
    villages: list[tuple[str, str]], households: int, seed: int, *, as_of: dt.date, periods: int = 3,
    id_prefix: str = "DT", serial_base: int = 0,
) -> list[FamilyData]:
    """``households`` families spread over ``villages`` (code, name), the same for the same arguments.

    Central ids are ``id_prefix`` + village digits + seed + index; NIK/KK serials start after ``serial_base``.
    Each family gets ``periods`` monthly desil publications ending at the latest 20th on or before
    ``as_of``; its ``desil`` is the latest one. Deciles are ranked over the whole generated population.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    if not villages:
        raise ValueError("no villages to put households in")
    rng = random.Random(seed)
    numbers = _Numbering(serial_base)
    villages = sorted(villages)
    # Larger villages get more families: weight villages unevenly but reproducibly.
    weights = [0.5 + rng.random() for _ in villages]
    families: list[FamilyData] = []
    for index in range(households):
        code, name = rng.choices(villages, weights=weights)[0]
        welfare = rng.betavariate(1.6, 2.4)  # more poor than rich, as in rural Sumatra
        members = _members(rng, numbers, code, name, welfare, as_of)
        issued = as_of - dt.timedelta(days=rng.randint(30, 365 * 15))
        kk = numbers.issue(f"{code.replace('.', '')[:6]}{issued:%d%m%y}")
        rw = rng.randint(1, 6)
        families.append(FamilyData(
            central_id=f"{id_prefix}{code.replace('.', '')}{seed % 1000:03d}{index:07d}",
            kk_number=kk, village_code=code, dusun=DUSUN[rw - 1], rw=f"{rw:03d}", rt=f"{rng.randint(1, 8):03d}",
            address=f"{rng.choice(STREETS)} No. {rng.randint(1, 150)}",
            attrs=_attrs(rng, welfare, len(members)), members=members,
        ))
    base = [pmt_score(f.attrs, f.living_members) for f in families]
    dates = publication_periods(as_of, periods)
    for period_index, period in enumerate(dates):
        latest = period_index == len(dates) - 1
        # Older publications were computed on slightly different (older) data: a little noise.
        scores = base if latest else [round(s + rng.gauss(0, 0.6), 3) for s in base]
        for family, score, desil in zip(families, scores, rank_deciles(scores), strict=True):
            family.desil_history.append((period, desil, score))
            if latest:
                family.score, family.desil = score, desil
    return families


# Ways a clerk writes the same name differently (registry.duplicates must see through each).
_MUHAMMAD = ("Muhamad", "M.", "Moh.", "Mochammad", "Muhammad")
_OLD_SPELLING = (("u", "oe"), ("j", "dj"), ("c", "tj"), ("y", "j"), ("sy", "sj"))


def respell(rng: random.Random, name: str) -> str:
    """``name`` written another way, as registers do: Muhammad/M., a title, a word split in two, a doubled
    letter, an old spelling, a final h dropped or added."""
    words = name.split()
    choices = ["title", "split", "double", "old", "final_h"]
    if "Muhammad" in words:
        choices += ["muhammad"] * 3
    kind = rng.choice(choices)
    if kind == "muhammad":
        return " ".join(rng.choice(_MUHAMMAD[:4]) if w == "Muhammad" else w for w in words)
    if kind == "title":
        return rng.choice(("H. ", "Hj. ", "Drs. ", "Ir. ")) + name if rng.random() < 0.7 else name + ", S.Pd."
    if kind == "split":
        long = [i for i, w in enumerate(words) if len(w) >= 7 and w != "Muhammad"]
        if long:
            i = rng.choice(long)
            cut = rng.randint(3, len(words[i]) - 3)
            words[i] = words[i][:cut] + " " + words[i][cut:].capitalize()
            return " ".join(words)
    if kind == "old":
        for new, old in rng.sample(_OLD_SPELLING, len(_OLD_SPELLING)):
            lowered = name.lower()
            if new in lowered:
                i = lowered.index(new)
                replaced = name[:i] + (old.capitalize() if name[i].isupper() else old) + name[i + len(new):]
                return replaced
    if kind == "final_h":
        return " ".join(w[:-1] if w.endswith("h") and len(w) > 4 else w + "h" if w[-1] in "aiu" else w
                        for w in words)
    # A doubled consonant in the longest word ("Sitti", "Rahmmat").
    i = max(range(len(words)), key=lambda j: len(words[j]))
    word = words[i]
    spots = [j for j in range(1, len(word)) if word[j] not in "aeiou"] or [len(word) - 1]
    j = rng.choice(spots)
    words[i] = word[:j + 1] + word[j] + word[j + 1:]
    return " ".join(words)


def inject_duplicates(families: list[FamilyData], rate: float, seed: int, *,
                      serial_base: int = 9000) -> tuple[list[FamilyData], list[tuple[str, str]]]:
    """Copies of ``rate`` of ``families`` as a register gets them twice: a new KK and NIKs, the head's name
    respelled, the day and month of birth swapped, the year one off or the marga left out (one or two of
    these), mostly in the same village. Returns the copies and the known pairs (original, copy) by
    central id; the same for the same arguments. Serials start after ``serial_base`` (unused by the originals).
    """
    rng = random.Random(seed)
    numbers = _Numbering(serial_base)
    copies: list[FamilyData] = []
    truth: list[tuple[str, str]] = []
    villages = sorted({f.village_code for f in families})
    for original in rng.sample(families, round(len(families) * rate)):
        members = [MemberData(**asdict(m)) for m in original.members]
        head = next(m for m in members if m.relationship == "head")
        changes = rng.sample(("respell", "swap", "year", "marga"), rng.choice((1, 1, 2)))
        if "marga" in changes and len(head.name.split()) >= 2:
            head.name = head.name.rsplit(" ", 1)[0]
        elif "marga" in changes:
            changes.append("respell")  # a one-word name has no marga to leave out
        if "respell" in changes:
            head.name = respell(rng, head.name)
        if "swap" in changes and head.birth_date.day <= 12 and head.birth_date.day != head.birth_date.month:
            head.birth_date = head.birth_date.replace(month=head.birth_date.day, day=head.birth_date.month)
        elif "swap" in changes or "year" in changes:
            year = head.birth_date.year + rng.choice((-1, 1))
            born = head.birth_date
            head.birth_date = born.replace(year=year, day=28 if (born.month, born.day) == (2, 29) else born.day)
        village = original.village_code if rng.random() < 0.85 else rng.choice(villages)
        kecamatan_digits = village.replace(".", "")[:6]
        for m in members:
            m.nik = _nik(numbers, kecamatan_digits, m.birth_date, m.sex)
        copy = FamilyData(
            central_id=original.central_id + "D", kk_number=numbers.issue(original.kk_number[:12]),
            village_code=village, dusun=original.dusun, rt=original.rt, rw=original.rw, address=original.address,
            attrs=dict(original.attrs), members=members, score=original.score, desil=original.desil,
            desil_history=list(original.desil_history))
        copies.append(copy)
        truth.append((original.central_id, copy.central_id))
    return copies, truth
