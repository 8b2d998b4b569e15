"""``{% error_summary form formset ... %}``: every error of the page's forms at the top, each linked to its field
(the GOV.UK-style summary): on a long form on a phone the first error may be far below the button."""
from django import template
from django.forms import BaseForm, BaseFormSet

register = template.Library()


def _problems(form) -> list[tuple[str, str, str]]:
    if isinstance(form, BaseFormSet):
        found = [("", "", str(e)) for e in form.non_form_errors()]
        for member in form.forms:
            found += _problems(member)
        return found
    if not isinstance(form, BaseForm) or not form.is_bound:
        return []
    found = [("", "", str(e)) for e in form.non_field_errors()]
    for field in form:
        # A choice of radio buttons has no one input to link: its first button is where the eye goes.
        anchor = field.id_for_label or (f"{field.auto_id}_0" if field.auto_id and field.subwidgets else "")
        # "What do you want to report?: ..." reads badly; the label's own end mark gives way to the colon.
        label = str(field.label).rstrip("?:")
        found += [(anchor, label, str(e)) for e in field.errors]
    return found


@register.inclusion_tag("_error_summary.html")
def error_summary(*forms):
    return {"problems": [problem for form in forms for problem in _problems(form)]}
