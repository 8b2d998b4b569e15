"""factory-boy factories for tests; they build valid NIK/KK numbers for real regions."""
import datetime as dt
import itertools

import factory
from django.contrib.auth.hashers import make_password

from accounts.models import Role, User
from registry.models import DesilRanking, Family, Member, Region
from verification.models import RoundFamily, VerificationRound

_serial = itertools.count(1)
PASSWORD = "rahasia-uji-123"

# Real regions (loaded by tests/conftest.py). Asahan's kecamatan codes start at 08.
REGENCY = "12.09"  # Kabupaten Asahan
KECAMATAN = "12.09.08"  # Meranti
VILLAGE = "12.09.08.2002"  # Desa Meranti
VILLAGE_SAME_KECAMATAN = "12.09.08.2004"  # Perkebunan Sei Balai
VILLAGE_OTHER_KECAMATAN = "12.09.09.2002"  # Air Joman, kecamatan Air Joman
OTHER_REGENCY = "12.72"  # Kota Pematangsiantar
KECAMATAN_OTHER_REGENCY = "12.72.01"
VILLAGE_OTHER_REGENCY = "12.72.01.1001"  # Kelurahan Kebun Sayur


def village(code: str = VILLAGE) -> Region:
    return Region.objects.get(code=code)


def kk_for(region_code: str, issued: dt.date = dt.date(2020, 1, 15)) -> str:
    digits = region_code.replace(".", "")[:6]
    return f"{digits}{issued:%d%m%y}{next(_serial) % 10000 or 1:04d}"


def nik_for(region_code: str, birth_date: dt.date, sex: str = "L") -> str:
    digits = region_code.replace(".", "")[:6]
    day = birth_date.day + (40 if sex == "P" else 0)
    return f"{digits}{day:02d}{birth_date:%m%y}{next(_serial) % 10000 or 1:04d}"


class FamilyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Family

    village = factory.LazyFunction(village)
    kk_number = factory.LazyAttribute(lambda o: kk_for(o.village.code))
    dusun = "Dusun I"
    rt = "001"
    rw = "002"
    address = "Jl. Merdeka No. 1"
    floor_type = "earth"
    wall_type = "woven_bamboo"
    roof_type = "zinc"
    desil = 2


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    family = factory.SubFactory(FamilyFactory)
    name = factory.Sequence(lambda n: f"Warga {n}")
    sex = "L"
    birth_date = dt.date(1980, 5, 17)
    nik = factory.LazyAttribute(lambda o: nik_for(o.family.village.code, o.birth_date, o.sex))
    relationship = Member.Relationship.HEAD


class DesilRankingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DesilRanking

    family = factory.SubFactory(FamilyFactory)
    period = dt.date(2026, 10, 20)
    desil = 3


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.LazyFunction(lambda: make_password(PASSWORD))
    role = Role.VILLAGE_OPERATOR
    area_id = VILLAGE


def _family_in(code: str) -> Family:
    family = FamilyFactory(village=village(code))
    MemberFactory(family=family)
    return family


# For the API scope matrix: how to make one object of each API model inside a given village.
# A new API endpoint whose model is missing here fails tests/api/test_scope_matrix.py on purpose.
OBJECT_IN_VILLAGE = {
    Region: lambda code: Region.objects.get(code=code),
    Family: _family_in,
    Member: lambda code: _family_in(code).members.get(),
    DesilRanking: lambda code: DesilRankingFactory(family=FamilyFactory(village=village(code))),
}


class RoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VerificationRound

    village = factory.LazyFunction(village)
    batch_ref = factory.Sequence(lambda n: f"12.09-PKH-{n:04d}")
    programme = "PKH"


def round_with_families(n: int = 3, code: str = VILLAGE, **round_fields) -> VerificationRound:
    """A round of ``n`` families (each with a head) in village ``code``."""
    round_ = RoundFactory(village=village(code), **round_fields)
    for _ in range(n):
        family = FamilyFactory(village=round_.village)
        MemberFactory(family=family)
        RoundFamily.objects.create(round=round_, family=family)
    return round_
