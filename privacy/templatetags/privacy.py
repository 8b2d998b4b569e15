"""Template side of ``privacy.masking``: ``{{ m.nik|nik:full_nik }}`` shows the whole NIK only when the view
decided the user may read it here (``full_nik`` from ``can_see_full_nik``); ``{{ value|masked_nik }}`` always
masks."""
from django import template

from privacy.masking import mask_nik, mask_numbers_in_text

register = template.Library()


@register.filter(name="nik")
def nik(value, full: bool = False) -> str:
    return (value or "") if full else mask_nik(value)


@register.filter(name="masked_nik")
def masked_nik(value) -> str:
    return mask_nik(value)


@register.filter(name="nik_text")
def nik_text(value, full: bool = False):
    """A text that may carry NIKs (a member's label "Siti (1209…)", a corrected NIK): every 16-digit number
    in it masked unless ``full``."""
    if full or not isinstance(value, str):
        return value
    return mask_numbers_in_text(value)
