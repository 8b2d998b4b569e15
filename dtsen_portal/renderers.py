"""The form renderer: Django's own widget templates through Jinja2, everything else through Django templates.

Rendering widgets is most of the time of form-heavy pages (the family verval page renders about 150 widgets:
two thirds of its time through the Django template engine, a third of that through Jinja2). Django ships a
Jinja2 copy of every built-in widget and form template; the admin's own widget templates (the related-object
wrapper, say) exist only for Django templates, so a template Jinja2 does not have comes from there.
"""
from functools import cached_property

from django.forms.renderers import DjangoTemplates, Jinja2
from django.template import TemplateDoesNotExist


class WidgetRenderer(Jinja2):
    @cached_property
    def fallback(self) -> DjangoTemplates:
        return DjangoTemplates()

    def get_template(self, template_name):
        try:
            return super().get_template(template_name)
        except TemplateDoesNotExist:
            return self.fallback.get_template(template_name)
