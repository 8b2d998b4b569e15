"""The register: regions, families (KK), members (NIK) and desil rankings.

Regions use their Kemendagri code as primary key, so every scoped row carries its village code and an
area scope is a prefix match on an indexed column (see ``accounts.scope``).
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from privacy.masking import mask_nik

from .validators import (
    LATITUDE_VALIDATORS,
    LONGITUDE_VALIDATORS,
    validate_kk_number,
    validate_nik,
    validate_not_future,
    validate_region_code,
)


class Region(models.Model):
    class Level(models.IntegerChoices):
        PROVINCE = 1, _("Province")
        REGENCY = 2, _("Regency/city")
        DISTRICT = 3, _("District (kecamatan)")
        VILLAGE = 4, _("Village (desa/kelurahan)")

    code = models.CharField(_("code"), max_length=13, primary_key=True, validators=[validate_region_code])
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )

    area_scope_path = "code"

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self):
        return f"{self.code} {self.name}"

    @staticmethod
    def level_of(code: str) -> int:
        return code.count(".") + 1

    @staticmethod
    def parent_code_of(code: str) -> str | None:
        return code.rsplit(".", 1)[0] if "." in code else None

    @property
    def village_kind(self) -> str:
        """Kelurahan, desa or desa adat, from the first digit of the village part of the code."""
        if self.level != self.Level.VILLAGE:
            return ""
        return {"1": _("Kelurahan"), "2": _("Desa"), "3": _("Desa adat")}.get(self.code[9], "")

    @property
    def display_name(self) -> str:
        """How people name the region: "Kecamatan Meranti", "Desa Meranti"; regency names carry their kind."""
        if self.level == self.Level.DISTRICT:
            return f"{_('Kecamatan')} {self.name}"
        if self.level == self.Level.VILLAGE and self.village_kind:
            return f"{self.village_kind} {self.name}"
        return self.name

    def contains(self, code: str) -> bool:
        return code == self.code or code.startswith(self.code + ".")


# Regsosek housing and asset variables, coded as in the BPS questionnaire.
class HouseOwnership(models.TextChoices):
    OWN = "own", _("Own")
    RENT = "rent", _("Rent/lease")
    RENT_FREE = "rent_free", _("Rent-free")
    OFFICIAL = "official", _("Official housing")
    OTHER = "other", _("Other")


class FloorType(models.TextChoices):
    MARBLE = "marble", _("Marble/granite")
    CERAMIC = "ceramic", _("Ceramic")
    PARQUET = "parquet", _("Parquet/vinyl/carpet")
    TILE = "tile", _("Tile/terrazzo")
    WOOD = "wood", _("Wood/board")
    CEMENT = "cement", _("Cement/red brick")
    BAMBOO = "bamboo", _("Bamboo")
    EARTH = "earth", _("Earth")
    OTHER = "other", _("Other")


class WallType(models.TextChoices):
    BRICK = "brick", _("Brick wall")
    PLASTERED_BAMBOO = "plastered_bamboo", _("Plastered bamboo/wire")
    WOOD = "wood", _("Wood/board")
    WOVEN_BAMBOO = "woven_bamboo", _("Woven bamboo")
    LOG = "log", _("Logs")
    BAMBOO = "bamboo", _("Bamboo")
    OTHER = "other", _("Other")


class RoofType(models.TextChoices):
    CONCRETE = "concrete", _("Concrete")
    CLAY_TILE = "clay_tile", _("Clay tile")
    ZINC = "zinc", _("Asbestos/zinc")
    WOOD = "wood", _("Wood/shingle")
    BAMBOO = "bamboo", _("Bamboo")
    THATCH = "thatch", _("Straw/palm leaves/thatch")
    OTHER = "other", _("Other")


class WaterSource(models.TextChoices):
    BOTTLED = "bottled", _("Bottled water")
    REFILL = "refill", _("Refill water")
    PIPED = "piped", _("Piped water")
    BOREHOLE = "borehole", _("Borehole/pump")
    PROTECTED_WELL = "protected_well", _("Protected well")
    UNPROTECTED_WELL = "unprotected_well", _("Unprotected well")
    PROTECTED_SPRING = "protected_spring", _("Protected spring")
    UNPROTECTED_SPRING = "unprotected_spring", _("Unprotected spring")
    SURFACE = "surface", _("River/lake")
    RAIN = "rain", _("Rainwater")
    OTHER = "other", _("Other")


class Lighting(models.TextChoices):
    PLN_METERED = "pln_metered", _("PLN electricity with meter")
    PLN_UNMETERED = "pln_unmetered", _("PLN electricity without meter")
    NON_PLN = "non_pln", _("Non-PLN electricity")
    NONE = "none", _("No electricity")


class CookingFuel(models.TextChoices):
    ELECTRIC = "electric", _("Electricity")
    LPG_LARGE = "lpg_large", _("LPG 5.5 kg or more")
    LPG_3KG = "lpg_3kg", _("LPG 3 kg")
    CITY_GAS = "city_gas", _("City gas/biogas")
    KEROSENE = "kerosene", _("Kerosene")
    BRIQUETTE = "briquette", _("Briquettes")
    CHARCOAL = "charcoal", _("Charcoal")
    FIREWOOD = "firewood", _("Firewood")
    NONE = "none", _("Does not cook")


class Toilet(models.TextChoices):
    OWN = "own", _("Own")
    SHARED = "shared", _("Shared")
    PUBLIC = "public", _("Public")
    NONE = "none", _("None")


class Family(models.Model):
    """A family card (KK) in the register, with its Regsosek housing and asset variables."""

    class Origin(models.TextChoices):
        CENTRAL = "central", _("Data awal (central)")
        PROPOSAL = "proposal", _("Proposal (usulan)")
        DEMO = "demo", _("Demo data")

    kk_number = models.CharField(_("KK number"), max_length=16, unique=True, validators=[validate_kk_number])
    central_id = models.CharField(_("DTSEN id"), max_length=32, unique=True, null=True, blank=True)
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices, default=Origin.CENTRAL)
    village = models.ForeignKey(
        Region, verbose_name=_("village"), on_delete=models.PROTECT, related_name="families",
        limit_choices_to={"level": Region.Level.VILLAGE},
    )
    dusun = models.CharField(_("dusun (hamlet)"), max_length=60, blank=True)
    rt = models.CharField(_("RT"), max_length=3, blank=True)
    rw = models.CharField(_("RW"), max_length=3, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                   validators=LATITUDE_VALIDATORS)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                    validators=LONGITUDE_VALIDATORS)

    house_ownership = models.CharField(_("house ownership"), max_length=12, choices=HouseOwnership.choices,
                                       blank=True)
    floor_area_m2 = models.PositiveSmallIntegerField(_("floor area (m²)"), null=True, blank=True,
                                                     validators=[MaxValueValidator(5000)])
    floor_type = models.CharField(_("floor"), max_length=12, choices=FloorType.choices, blank=True)
    wall_type = models.CharField(_("wall"), max_length=18, choices=WallType.choices, blank=True)
    roof_type = models.CharField(_("roof"), max_length=12, choices=RoofType.choices, blank=True)
    water_source = models.CharField(_("drinking water"), max_length=20, choices=WaterSource.choices, blank=True)
    lighting = models.CharField(_("lighting"), max_length=14, choices=Lighting.choices, blank=True)
    cooking_fuel = models.CharField(_("cooking fuel"), max_length=12, choices=CookingFuel.choices, blank=True)
    toilet = models.CharField(_("toilet"), max_length=8, choices=Toilet.choices, blank=True)

    has_lpg_large = models.BooleanField(_("LPG cylinder 5.5 kg or more"), default=False)
    has_refrigerator = models.BooleanField(_("refrigerator"), default=False)
    has_air_conditioner = models.BooleanField(_("air conditioner"), default=False)
    has_water_heater = models.BooleanField(_("water heater"), default=False)
    has_flat_tv = models.BooleanField(_("flat-screen TV (30 inch or more)"), default=False)
    has_gold = models.BooleanField(_("gold/jewellery (10 g or more)"), default=False)
    has_computer = models.BooleanField(_("computer/laptop"), default=False)
    has_motorcycle = models.BooleanField(_("motorcycle"), default=False)
    has_car = models.BooleanField(_("car"), default=False)
    has_boat = models.BooleanField(_("boat/motor boat"), default=False)
    has_land = models.BooleanField(_("land elsewhere"), default=False)
    has_livestock = models.BooleanField(_("livestock"), default=False)

    # Current desil, kept equal to the latest DesilRanking by registry.services.desil_record; stored
    # because area statistics over hundreds of thousands of families must not compute "latest" per row.
    # In no index: the monthly publication rewrites a third of a regency's desil, and a row whose indexed
    # columns stay the same is updated in place (a HOT update, room left by the table's fillfactor, see
    # migration 0008) instead of through every index of the table. Lists are of a village, read by the
    # village's index; area counts come from the tallies (verification.tallies).
    desil = models.PositiveSmallIntegerField(
        _("desil"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
    )
    # Optimistic locking: an edit based on an older version is refused, not silently merged.
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at", "version"])
    area_scope_path = "village_id"

    class Meta:
        ordering = ["village_id", "dusun", "rw", "rt", "kk_number"]
        verbose_name = _("family")
        verbose_name_plural = _("families")
        indexes = [
            # Trigrams of UPPER(address): the expression Django's icontains compares (registry.search).
            GinIndex(OpClass(Upper("address"), name="gin_trgm_ops"), name="family_address_trgm"),
            # A village's family ids without reading the families (index-only): Cek Bansos joins them with
            # the ids of the families where someone has the name (Member's member_name_upper).
            models.Index(fields=["village", "id"], name="family_village_id_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(desil__gte=1, desil__lte=10) | models.Q(desil__isnull=True),
                                   name="family_desil_range"),
        ]

    def __str__(self):
        return self.kk_number

    ASSET_FIELDS = ("has_lpg_large", "has_refrigerator", "has_air_conditioner", "has_water_heater", "has_flat_tv",
                    "has_gold", "has_computer", "has_motorcycle", "has_car", "has_boat", "has_land",
                    "has_livestock")

    def asset_labels(self) -> list[str]:
        """The names of the assets the family owns, for display."""
        return [str(self._meta.get_field(name).verbose_name) for name in self.ASSET_FIELDS if getattr(self, name)]


class Member(models.Model):
    """A person (NIK) on a family card."""

    class Sex(models.TextChoices):
        MALE = "L", _("Male")
        FEMALE = "P", _("Female")

    class Relationship(models.TextChoices):
        HEAD = "head", _("Head of family")
        SPOUSE = "spouse", _("Husband/wife")
        CHILD = "child", _("Child")
        CHILD_IN_LAW = "child_in_law", _("Son/daughter-in-law")
        GRANDCHILD = "grandchild", _("Grandchild")
        PARENT = "parent", _("Parent")
        PARENT_IN_LAW = "parent_in_law", _("Parent-in-law")
        OTHER_RELATIVE = "relative", _("Other relative")
        OTHER = "other", _("Other")

    class Education(models.TextChoices):
        NONE = "none", _("No schooling")
        SD = "sd", _("Primary (SD)")
        SMP = "smp", _("Junior secondary (SMP)")
        SMA = "sma", _("Senior secondary (SMA/SMK)")
        DIPLOMA = "diploma", _("Diploma")
        BACHELOR = "bachelor", _("Bachelor (S1)")
        POSTGRAD = "postgrad", _("Postgraduate (S2/S3)")

    class Disability(models.TextChoices):
        NONE = "none", _("None")
        PHYSICAL = "physical", _("Physical")
        SENSORY = "sensory", _("Sensory")
        INTELLECTUAL = "intellectual", _("Intellectual")
        MENTAL = "mental", _("Mental")
        MULTIPLE = "multiple", _("Multiple")

    class LifeStatus(models.TextChoices):
        PRESENT = "present", _("Present")
        DECEASED = "deceased", _("Deceased")
        MOVED = "moved", _("Moved")

    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="members")
    nik = models.CharField(_("NIK"), max_length=16, unique=True, validators=[validate_nik])
    name = models.CharField(_("name"), max_length=120)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    birth_place = models.CharField(_("place of birth"), max_length=60, blank=True)
    birth_date = models.DateField(_("date of birth"), validators=[validate_not_future])
    relationship = models.CharField(_("relationship to head"), max_length=14, choices=Relationship.choices)
    education = models.CharField(_("education"), max_length=10, choices=Education.choices, blank=True)
    occupation = models.CharField(_("occupation"), max_length=60, blank=True)
    disability = models.CharField(_("disability"), max_length=12, choices=Disability.choices,
                                  default=Disability.NONE)
    life_status = models.CharField(_("life status"), max_length=10, choices=LifeStatus.choices,
                                   default=LifeStatus.PRESENT, db_index=True)
    # The day the person died or moved out, as the village verified it; the centre needs it with the status.
    life_event_date = models.DateField(_("date of death or moving out"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    area_scope_path = "family__village_id"

    class Meta:
        ordering = ["family_id", "birth_date"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        # Name search (registry.search): the words of names (full-text, 'simple' config: no stemming) answer
        # common names fast; trigrams of UPPER(name) serve icontains (UPPER(name) LIKE UPPER('%...%')) for
        # any part of a name. A whole name (Cek Bansos' iexact, UPPER(name) = UPPER(...)) is a B-tree
        # lookup, with the family beside it for the village check (Cek Bansos: distribution.services).
        indexes = [
            GinIndex(SearchVector("name", config="simple"), name="member_name_words"),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="member_name_trgm"),
            # The name in INCLUDE as well: PostgreSQL answers from the index alone ("index-only") only when
            # the columns under its expressions are in it too.
            models.Index(Upper("name"), F("family"), name="member_name_upper", include=["name"]),
        ]

    def __str__(self):
        # Shown in admin lists, pickers, messages and log lines: the NIK masked (privacy.masking).
        return f"{self.name} ({mask_nik(self.nik)})"

    @property
    def masked_nik(self) -> str:
        return mask_nik(self.nik)


class DesilRanking(models.Model):
    """One family's desil in one publication period; the history is never rewritten."""

    # Indexed by the unique (family, period) below, which leads with the family. No database constraint:
    # rows are written by set-based statements that take the family's id from a join in the same
    # statement (central.desil), and the constraint's check of each new row (a lock on every family, a
    # million a month) cost as much as writing the rankings; Django's CASCADE still deletes them with the
    # family.
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE,
                               related_name="desil_rankings", db_index=False, db_constraint=False)
    period = models.DateField(_("publication date"))
    desil = models.PositiveSmallIntegerField(_("desil"), validators=[MinValueValidator(1), MaxValueValidator(10)])
    score = models.DecimalField(_("score"), max_digits=8, decimal_places=3, null=True, blank=True)
    source = models.CharField(_("source"), max_length=40, default="central")
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    area_scope_path = "family__village_id"

    class Meta:
        ordering = ["family_id", "-period"]
        verbose_name = _("desil ranking")
        verbose_name_plural = _("desil rankings")
        constraints = [
            models.UniqueConstraint(fields=["family", "period"], name="desil_one_per_family_period"),
            models.CheckConstraint(condition=models.Q(desil__gte=1, desil__lte=10), name="desil_range"),
        ]

    # Who ranked the family, as the page names it (the column keeps free text: a loader may name itself).
    SOURCE_LABELS = {"central": _("The centre (Pusdatin)"), "demo": _("Demo data")}

    def __str__(self):
        return f"{self.family_id} {self.period}: {self.desil}"

    @property
    def source_label(self) -> str:
        return str(self.SOURCE_LABELS.get(self.source, self.source))


class DesilChange(models.Model):
    """A family's desil in one publication against its previous one, recorded when the publication is applied.

    Only families whose desil changed (or who were ranked for the first time) get a row, so the feed of who
    entered or left desil 1-4 is a filtered list, not a comparison over every family of a regency.
    """

    class Movement(models.TextChoices):
        ENTERED = "entered", _("Entered desil 1-4")
        LEFT = "left", _("Left desil 1-4")
        WITHIN = "within", _("Moved, same side of desil 4")

    # Indexed by the unique (family, period) below, which leads with the family. No database constraint,
    # as for DesilRanking.family.
    family = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE,
                               related_name="desil_changes", db_index=False, db_constraint=False)
    # Denormalised from the family: the feed lists a regency's changes without joining every family. Copied
    # from the family's own (constrained) village in the same statement, so no database constraint either:
    # its check locked a region row for each of a publication's hundreds of thousands of changes. Indexed only
    # behind the period (``desil_change_feed``): the feed always names a publication, and two more indexes
    # to write for each of those changes cost the publication a second.
    village = models.ForeignKey(Region, verbose_name=_("village"), on_delete=models.PROTECT, related_name="+",
                                db_constraint=False, db_index=False)
    period = models.DateField(_("publication date"))
    old_desil = models.PositiveSmallIntegerField(_("previous desil"), null=True, blank=True,
                                                 help_text=_("Empty when the family is ranked for the first time."))
    new_desil = models.PositiveSmallIntegerField(_("new desil"))
    old_score = models.DecimalField(_("previous score"), max_digits=8, decimal_places=3, null=True, blank=True)
    new_score = models.DecimalField(_("new score"), max_digits=8, decimal_places=3, null=True, blank=True)
    movement = models.CharField(_("movement"), max_length=8, choices=Movement.choices)
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    area_scope_path = "village_id"

    class Meta:
        ordering = ["-period", "village_id", "family_id"]
        verbose_name = _("desil change")
        verbose_name_plural = _("desil changes")
        constraints = [models.UniqueConstraint(fields=["family", "period"], name="desil_change_once")]
        indexes = [models.Index(fields=["period", "movement", "village"], name="desil_change_feed")]

    def __str__(self):
        return f"{self.family_id} {self.period}: {self.old_desil} → {self.new_desil}"


class DesilThreshold(models.Model):
    """The score range of each desil in one publication, kept so a family's score can be placed in a desil
    without scanning the whole publication (the portal's estimate beside the official desil)."""

    period = models.DateField(_("publication date"))
    desil = models.PositiveSmallIntegerField(_("desil"), validators=[MinValueValidator(1), MaxValueValidator(10)])
    min_score = models.DecimalField(_("lowest score"), max_digits=8, decimal_places=3)
    max_score = models.DecimalField(_("highest score"), max_digits=8, decimal_places=3)
    families = models.PositiveIntegerField(_("families"))

    unscoped_reference_data = True  # score bounds of a whole publication, no family's data

    class Meta:
        ordering = ["-period", "desil"]
        verbose_name = _("desil threshold")
        verbose_name_plural = _("desil thresholds")
        constraints = [models.UniqueConstraint(fields=["period", "desil"], name="desil_threshold_once")]

    def __str__(self):
        return f"{self.period} desil {self.desil}: {self.min_score}-{self.max_score}"


class DuplicatePair(models.Model):
    """Two families a regency-wide duplicate scan (``registry.duplicates.regency_scan``) found alike, kept with
    the scan's job: the likelihood (0-1) and the reasons. Read on the scan's page, scoped and with NIK masked."""

    job = models.ForeignKey("jobs.Job", verbose_name=_("scan"), on_delete=models.CASCADE,
                            related_name="duplicate_pairs", db_index=False)
    family_a = models.ForeignKey(Family, verbose_name=_("family"), on_delete=models.CASCADE, related_name="+")
    family_b = models.ForeignKey(Family, verbose_name=_("possible duplicate"), on_delete=models.CASCADE,
                                 related_name="+")
    likelihood = models.FloatField(_("likelihood"))
    reasons = models.JSONField(_("reasons"), default=list)

    # Scoped by the first family (the scan's page also requires the second inside the viewer's area).
    area_scope_path = "family_a__village_id"

    class Meta:
        verbose_name = _("possible duplicate pair")
        verbose_name_plural = _("possible duplicate pairs")
        # The scan's page lists its pairs most likely first, a page at a time.
        indexes = [models.Index(F("job"), F("likelihood").desc(), F("id"), name="duplicate_pair_job_order")]

    def __str__(self):
        return f"{self.family_a_id} ~ {self.family_b_id} ({self.likelihood:.2f})"
