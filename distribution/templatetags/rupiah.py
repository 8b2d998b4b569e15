"""``{{ amount|rupiah }}`` → Rp1.250.000."""
from django import template

from distribution.services import rupiah as format_rupiah

register = template.Library()


@register.filter
def rupiah(amount):
    return format_rupiah(amount)


@register.filter
def percent_of(value, total):
    return round(100 * (value or 0) / total) if total else 0
