"""Shared REST API plumbing: the stable error shape, the 404 handler for API paths and the scoped viewset base.

Errors always look like ``{"code": ..., "message": ..., "field_errors": {field: [messages]}}`` and are
translated by the request's Accept-Language (Bahasa Indonesia by default). Service errors map to HTTP
statuses here, so services stay free of HTTP and DRF.
"""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.scope import scope_queryset
from dtsen_portal.errors import Conflict, InvalidState, NotAllowed, NotInScope, ServiceError

SERVICE_ERROR_STATUS = {
    NotInScope: status.HTTP_404_NOT_FOUND,
    NotAllowed: status.HTTP_403_FORBIDDEN,
    InvalidState: status.HTTP_409_CONFLICT,
    Conflict: status.HTTP_409_CONFLICT,
}


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _field_errors(detail) -> dict:
    if not isinstance(detail, dict):
        return {}
    return {field: _flatten(value) for field, value in detail.items()}


def exception_handler(exc, context):
    """Turn every error into the stable JSON shape."""
    if isinstance(exc, ServiceError):
        status_code = next((s for cls, s in SERVICE_ERROR_STATUS.items() if isinstance(exc, cls)),
                           status.HTTP_400_BAD_REQUEST)
        body = {"code": exc.code, "message": exc.message, "field_errors": exc.field_errors}
        if exc.details:
            body["details"] = exc.details
        return Response(body, status=status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: let Django report it as a 500
    if isinstance(exc, exceptions.ValidationError):
        field_errors = _field_errors(exc.detail)
        body = {"code": "invalid", "message": _("The data sent is not valid."),
                "field_errors": field_errors if field_errors else {"non_field_errors": _flatten(exc.detail)}}
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {"code": codes if isinstance(codes, str) else "error",
                "message": " ".join(_flatten(getattr(exc, "detail", str(exc)))), "field_errors": {}}
    response.data = body
    return response


class ScopedQuerysetMixin:
    """API views read through the one area scope: objects of another area simply do not exist (404)."""

    def base_queryset(self):
        return self.queryset.all()

    def get_queryset(self):
        return scope_queryset(self.request.user, self.base_queryset())


class ScopedReadOnlyViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Lists and objects in the user's area, cursor-paginated (the default); writes are named actions that
    validate their input here and call the app's service."""

    ordering_fields = ["id"]

    def validated(self, serializer_class) -> dict:
        payload = serializer_class(data=self.request.data)
        payload.is_valid(raise_exception=True)
        return payload.validated_data


class ChoiceLabelField(serializers.CharField):
    """The label of a stored code, as ``get_FOO_display`` gives it, read from the model field's choices.

    ``CharField(source="get_FOO_display")`` costs DRF an ``inspect.signature`` of the method on every value:
    on a page of families with their members that was most of the API's time (109 ms of a 45 ms page)."""

    def __init__(self, *, model_field, **kwargs):
        self.labels = dict(model_field.flatchoices)
        super().__init__(source=model_field.attname, read_only=True, **kwargs)

    def to_representation(self, value):
        return str(self.labels.get(value, value))


class ReadModelSerializer(serializers.ModelSerializer):
    """A model's read representation: every field read-only, blank values kept in the schema.

    ``Meta.read_only_fields`` would drop ``allow_blank`` and the schema would then promise non-empty strings
    (and enums without "") that the data does not keep; marking the built fields read-only keeps it.
    """

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.read_only, field.required = True, False
        # Every stored code comes with its label (in the request's language) for people reading the answer:
        # "state": "in_verification", "state_display": "Dalam verval".
        model = getattr(getattr(self, "Meta", None), "model", None)
        for name, field in list(fields.items()):
            display = f"{name}_display"
            if (isinstance(field, serializers.ChoiceField) and not isinstance(field, serializers.MultipleChoiceField)
                    and field.source in (None, name) and display not in fields
                    and hasattr(model, f"get_{name}_display")):
                fields[display] = ChoiceLabelField(model_field=model._meta.get_field(name))
        return fields


def page_not_found(request, exception):
    """404 handler: API paths answer in the API's error shape, pages with the site's 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "message": _("Not found."), "field_errors": {}}, status=404)
    return defaults.page_not_found(request, exception)


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: describe the shared error shape on every operation."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", {
        "type": "object",
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "field_errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "details": {"type": "object", "description": "Present on some errors: what a program needs to act "
                        "on them (for possible duplicates, the candidate families)."},
        },
        "required": ["code", "message", "field_errors"],
    })
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    descriptions = {"400": "Invalid input.", "401": "Not authenticated.",
                    "403": "Not allowed for this role.", "404": "Not found or outside the user's area.",
                    "409": "Conflict with the object's current state or version."}
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = ["400", "401", "403"]
            if "{" in path:
                codes.append("404")
            if method in ("post", "put", "patch", "delete"):
                codes.append("409")
            for code in codes:
                operation["responses"].setdefault(code, {"description": descriptions[code], **error})
    return result
