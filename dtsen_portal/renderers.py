"""The form renderer: Django's own widget templates through Jinja2, everything else through Django templates.

Rendering widgets is most of the time of form-heavy pages (the family verval page renders about 150 widgets:
two thirds of its time through the Django template engine, a third of that through Jinja2). Django ships a
Jinja2 copy of every built-in widget and form template; the admin's own widget templates (the related-object
wrapper, say) exist only for Django templates, so a template Jinja2 does not have comes from there.
"""
from functools import cached_property

from django.db.models.fields import BLANK_CHOICE_DASH
from django.forms.renderers import DjangoTemplates, Jinja2
from django.template import TemplateDoesNotExist
from django.utils.translation import gettext as _

DASHES = BLANK_CHOICE_DASH[0][1]  # "---------": Django's empty choice of a model field with choices


class WidgetRenderer(Jinja2):
    @cached_property
    def fallback(self) -> DjangoTemplates:
        return DjangoTemplates()

    def render(self, template_name, context, request=None):
        # Every select's empty choice in the portal's words instead of "---------" (one place for all forms).
        for _group, options, _index in context.get("widget", {}).get("optgroups", ()):
            for option in options:
                if option.get("label") == DASHES:
                    option["label"] = _("Choose")
        return super().render(template_name, context, request=request)

    def get_template(self, template_name):
        try:
            return super().get_template(template_name)
        except TemplateDoesNotExist:
            return self.fallback.get_template(template_name)
