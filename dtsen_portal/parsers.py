"""The API's request parser: JSON only, and bounded in how deep it nests.

Its own module because DRF reads DEFAULT_PARSER_CLASSES while ``rest_framework.views`` is imported, which
``dtsen_portal.api`` itself imports.
"""
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

# Deeper than any request the API documents (a proposal with members is 3 levels); the limit keeps a body
# such as 100,000 "[" from exhausting the interpreter's stack in the parser or in the code reading it.
MAX_JSON_DEPTH = 20


def json_depth_exceeds(data, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when lists/objects nest deeper than ``limit`` (walked with a stack, not recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return False


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 (not a 500 from RecursionError) for a body nested too deep."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None  # the C decoder stops at the interpreter's recursion limit
        else:
            if not json_depth_exceeds(data):
                return data
        raise exceptions.ParseError(_("The JSON body is nested more than %(depth)d levels deep.")
                                    % {"depth": MAX_JSON_DEPTH})
