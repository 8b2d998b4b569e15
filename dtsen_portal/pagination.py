"""The API's pagination, in a module of its own: DRF imports it from settings while building its generic
views, so it must not import viewsets itself."""
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    """Cursor pagination: page 10,000 costs what page 1 costs (no OFFSET)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

    def decode_cursor(self, request):
        # A damaged cursor is bad input (400), not a missing page.
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({self.cursor_query_param: [_("Invalid cursor.")]}) from None
