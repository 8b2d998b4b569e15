"""``{% family_desil_estimate family as estimate %}``: the portal's PMT estimate beside the official desil.

A tag rather than a view variable, so every page that shows a family (the family page, the verval entry)
gets the same block with one include line.
"""
from django import template

from registry.selectors import family_score_estimate

register = template.Library()


@register.simple_tag
def family_desil_estimate(family):
    return family_score_estimate(family)
