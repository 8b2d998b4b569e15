"""``{{ amount|rupiah }}`` → Rp1.250.000; ``{{ code|payment_status }}`` → the status's label."""
from django import template

from distribution.services import rupiah as format_rupiah

register = template.Library()


@register.filter
def rupiah(amount):
    return format_rupiah(amount)


@register.filter
def percent_of(value, total):
    return round(100 * (value or 0) / total) if total else 0


@register.filter
def payment_status(code):
    """A payment status code (an import row keeps the code) as its label in the page's language."""
    from distribution.models import Disbursement

    return dict(Disbursement.Status.choices).get(code, code)
