"""API of ground-check visits: read them in the user's area; a facilitator's device posts new ones.

Posting calls the same service as the phone page: stored once per phone-made id (a repeat answers 200 with
the stored visit), only for the facilitator's own assignments, flagging the family when findings disagree.
Photos are sent by the phone page (multipart); the API takes the visit's data.
"""
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from accounts.scope import scope_queryset
from dtsen_portal.api import ReadModelSerializer, ScopedReadOnlyViewSet
from groundcheck import services
from groundcheck.models import Assignment, Visit
from registry.models import Family
from registry.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS


class VisitSerializer(ReadModelSerializer):
    kk_number = serializers.CharField(source="family.kk_number", read_only=True)

    class Meta:
        model = Visit
        fields = ["id", "client_uuid", "assignment", "family", "kk_number", "facilitator", "visited_at", "latitude",
                  "longitude", "accuracy_m", "checklist", "mismatches", "findings", "recommendation", "differences",
                  "received_at"]


def _checklist_field(name: str) -> serializers.Field:
    model_field = Family._meta.get_field(name)
    if name.startswith("has_"):
        return serializers.BooleanField(required=False, allow_null=True, help_text=str(model_field.verbose_name))
    if model_field.choices:
        return serializers.ChoiceField(choices=model_field.choices, required=False, allow_blank=True)
    return serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5000)


class ChecklistSerializer(serializers.Serializer):
    """What the facilitator found, field by field; a field left out was not checked."""

    def get_fields(self):
        return {name: _checklist_field(name) for name in services.CHECKLIST_FIELDS}


class VisitCreateSerializer(serializers.Serializer):
    assignment = serializers.IntegerField()
    client_uuid = serializers.UUIDField(help_text="Made by the device, so a visit sent twice is stored once.")
    visited_at = serializers.DateTimeField()
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True,
                                        validators=LATITUDE_VALIDATORS)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True,
                                         validators=LONGITUDE_VALIDATORS)
    accuracy_m = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    recommendation = serializers.ChoiceField(choices=Visit.Recommendation.choices)
    findings = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    checklist = ChecklistSerializer(required=False, default=dict)
    mismatches = serializers.ListField(
        child=serializers.ChoiceField(choices=services.CHECKLIST_FIELDS), required=False, default=list,
        max_length=len(services.CHECKLIST_FIELDS),
        help_text="Checklist items found not as in the register whose value was not noted.")

    def validate(self, data):
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise serializers.ValidationError(_("Send both latitude and longitude, or neither."))
        return data


class VisitViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Ground-check visits in the user's area; facilitators post the visits they made."""

    queryset = Visit.objects.all()
    serializer_class = VisitSerializer
    filterset_fields = ["recommendation", "family"]
    search_fields = ["=family__kk_number"]
    ordering_fields = ["id", "visited_at", "received_at"]

    def base_queryset(self):
        return Visit.objects.select_related("family")

    @extend_schema(request=VisitCreateSerializer, responses={201: VisitSerializer, 200: VisitSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated(VisitCreateSerializer)
        if not scope_queryset(request.user, Assignment.objects.filter(pk=data["assignment"])).exists():
            raise serializers.ValidationError({"assignment": [_("No assignment with this id in your area.")]})
        checklist = {k: v for k, v in data["checklist"].items() if v not in (None, "")}
        visit, created = services.visit_record(
            actor=request.user, assignment_id=data["assignment"], client_uuid=data["client_uuid"],
            visited_at=data["visited_at"], checklist=checklist, findings=data["findings"],
            recommendation=data["recommendation"], latitude=data.get("latitude"),
            longitude=data.get("longitude"), accuracy_m=data.get("accuracy_m"), mismatches=data["mismatches"])
        return Response(VisitSerializer(visit).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
