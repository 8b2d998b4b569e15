"""Serializers of the register for the REST API (read side)."""
from rest_framework import serializers

from dtsen_portal.api import ReadModelSerializer
from privacy.masking import mask_nik
from registry.models import DesilRanking, Family, Member, Region


class RegionSerializer(ReadModelSerializer):
    level_display = serializers.CharField(source="get_level_display", read_only=True)

    class Meta:
        model = Region
        fields = ["code", "name", "level", "level_display", "parent"]


class MemberSerializer(ReadModelSerializer):
    nik = serializers.CharField(read_only=True, help_text=(
        "The NIK. Masked (1209********0001) in lists for every role; whole in a family's detail "
        "(GET /families/{id}/) for village operators, Dinsos staff and administrators, and each such read is "
        "recorded in the personal-data access log. Village heads and facilitators always read it masked."))

    class Meta:
        model = Member
        fields = ["id", "nik", "name", "sex", "birth_place", "birth_date", "relationship", "education",
                  "occupation", "disability", "life_status"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("full_nik"):
            data["nik"] = mask_nik(data["nik"])
        return data


class DesilRankingSerializer(ReadModelSerializer):
    class Meta:
        model = DesilRanking
        fields = ["period", "desil", "score", "source"]


HOUSING_FIELDS = [
    "house_ownership", "floor_area_m2", "floor_type", "wall_type", "roof_type", "water_source", "lighting",
    "cooking_fuel", "toilet", "has_lpg_large", "has_refrigerator", "has_air_conditioner", "has_water_heater",
    "has_flat_tv", "has_gold", "has_computer", "has_motorcycle", "has_car", "has_boat", "has_land",
    "has_livestock",
]


class FamilySerializer(ReadModelSerializer):
    village_name = serializers.CharField(source="village.name", read_only=True)
    members = MemberSerializer(many=True, read_only=True)
    desil_history = DesilRankingSerializer(source="desil_rankings", many=True, read_only=True)

    class Meta:
        model = Family
        fields = ["id", "kk_number", "central_id", "origin", "village", "village_name", "dusun", "rt", "rw",
                  "address", "latitude", "longitude", *HOUSING_FIELDS, "desil", "version", "members",
                  "desil_history", "updated_at"]
