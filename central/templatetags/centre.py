"""Template tags that show the centre's answers on pages of other apps (the family page, the verval pages).

The pages belong to apps below the central sync; they load these tags instead of importing the sync, so the
import arrows keep pointing one way.
"""
from django import template

from central import selectors

register = template.Library()


@register.filter
def describe(item) -> str:
    return selectors.describe(item)


@register.inclusion_tag("central/_centre_items.html")
def centre_items_for_family(family):
    return {"items": selectors.family_items(family=family), "show_round": True}


@register.inclusion_tag("central/_centre_items.html")
def centre_items_for_entry(entry):
    return {"items": selectors.entry_items(entry=entry), "show_round": False}


@register.inclusion_tag("central/_round_answer.html", takes_context=True)
def centre_round_answer(context, round_):
    submission, matrix = selectors.round_matrix(round_)
    user = context["request"].user
    return {"submission": submission, "matrix": matrix,
            "sync_staff": user.is_administrator or user.role in ("dinsos", "admin")}
