"""Building central batches in the portal's database without the mock, for ingest tests."""
import datetime as dt

from central.models import BatchState, CentralBatch, DownloadedPage
from central.protocol import checksum, combined_checksum
from registry.models import Region
from registry.synthetic import generate_households

AS_OF = dt.date(2026, 11, 23)


def families_for(regency: str, households: int, seed: int) -> list[dict]:
    villages = list(Region.objects.filter(code__startswith=regency + ".", level=Region.Level.VILLAGE)
                    .values_list("code", "name"))
    return [f.as_json() for f in generate_households(villages, households, seed, as_of=AS_OF)]


def downloaded_batch(batch_id: str, families: list[dict], *, regency: str = "12.72", page_size: int = 40,
                     programme: str = "PKH") -> CentralBatch:
    """A batch whose pages are already downloaded and verified, ready to be applied."""
    pages = [families[i:i + page_size] for i in range(0, len(families), page_size)]
    sums = [checksum(page) for page in pages]
    batch = CentralBatch.objects.create(
        batch_id=batch_id, regency_code=regency, programme=programme, family_count=len(families),
        member_count=sum(len(f["members"]) for f in families), page_size=page_size, page_count=len(pages),
        checksum=combined_checksum(sums), state=BatchState.DOWNLOADED, pages_done=len(pages))
    DownloadedPage.objects.bulk_create(
        DownloadedPage.for_rows(stream="batch", ref=batch_id, number=n, checksum=s, rows=page)
        for n, (page, s) in enumerate(zip(pages, sums, strict=True), start=1))
    return batch


def clashing_register(families: list[dict]):
    """The register before a batch of ``families``: a family holding the KK number of family 10 under another
    DTSEN id (DT-LAMA-1, with its own member Ani Lubis), and a family (DT-LAMA-2) one of whose members holds
    the NIK of family 20's first member."""
    from types import SimpleNamespace

    from registry.models import Member

    from ..factories import FamilyFactory, MemberFactory, village

    kk_holder = FamilyFactory(village=village(families[10]["village_code"]), kk_number=families[10]["kk_number"],
                              central_id="DT-LAMA-1", floor_type="earth")
    MemberFactory(family=kk_holder, name="Ani Lubis")
    nik_holder = FamilyFactory(village=village(families[20]["village_code"]), central_id="DT-LAMA-2")
    person = families[20]["members"][0]
    moved = MemberFactory(family=nik_holder, nik=person["nik"], name="Budi Register", sex=person["sex"],
                          birth_date=dt.date.fromisoformat(person["birth_date"]))
    MemberFactory(family=nik_holder, name="Siti Register", relationship=Member.Relationship.SPOUSE, sex="P")
    return SimpleNamespace(kk_holder=kk_holder, nik_holder=nik_holder, moved=moved)


def swapped_date(born: dt.date) -> dt.date:
    """The birth date as a clerk may have typed it: day and month swapped where that is a date."""
    return dt.date(born.year, born.day, born.month) if born.day <= 12 and born.day != born.month else born


def alike_register_family(families: list[dict], *, clash_member: bool = False, nth: int = 0):
    """A family the register held before the batch that is one of the batch's families written differently: the
    head without the last word of the name (a missing marga) and with day and month swapped, another member as
    the centre has them, other NIKs and KK, no DTSEN id (a village's usulan). With ``clash_member`` it also
    lists a third person named like one of the centre's but born 30 years apart. ``nth``: which of the
    batch's families that can be written so (the first by default)."""
    doc = [f for f in families[5:] if len(f["members"]) >= 3 and len(head_of(f)["name"].split()) >= 2
           and f["members"][1]["relationship"] != "head"][nth]
    from registry.models import Family, Member

    from ..factories import FamilyFactory, MemberFactory, village

    head, other = head_of(doc), next(m for m in doc["members"] if m["relationship"] != "head")
    family = FamilyFactory(village=village(doc["village_code"]), central_id=None, origin=Family.Origin.PROPOSAL,
                           dusun=doc["dusun"], rt=doc["rt"], rw=doc["rw"])
    MemberFactory(family=family, name=" ".join(head["name"].split()[:-1]), sex=head["sex"],
                  birth_date=swapped_date(dt.date.fromisoformat(head["birth_date"])))
    MemberFactory(family=family, name=other["name"].upper(), sex=other["sex"],
                  birth_date=dt.date.fromisoformat(other["birth_date"]), relationship=other["relationship"])
    if clash_member:
        third = next(m for m in doc["members"] if m["nik"] not in (head["nik"], other["nik"]))
        born = dt.date.fromisoformat(third["birth_date"])
        MemberFactory(family=family, name=third["name"], sex=third["sex"], birth_date=born.replace(year=born.year - 30),
                      relationship=Member.Relationship.OTHER)
    return doc, family


def head_of(doc):
    return next(m for m in doc["members"] if m["relationship"] == "head")
