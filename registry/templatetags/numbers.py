"""``{% load numbers %}``: ``{{ n|number }}`` 1.200, ``{{ s|score }}`` 17,4, ``{% coordinates lat lon %}``
2.951200° LU, 99.552100° BT (``dtsen_portal.formats``)."""
from django import template

from dtsen_portal import formats

register = template.Library()


@register.filter
def number(value):
    return formats.number(value)


@register.filter
def score(value):
    return formats.score(value)


@register.simple_tag
def coordinates(latitude, longitude):
    return formats.coordinates(latitude, longitude)
