"""Forms of the register's pages."""
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.scope import scope_queryset

from .models import Region


class DuplicateScanForm(forms.Form):
    """The regency to scan: Dinsos has its own; an administrator chooses."""

    region = forms.ChoiceField(label=_("Regency/city"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        regencies = scope_queryset(user, Region.objects.filter(level=Region.Level.REGENCY)).order_by("code")
        self.fields["region"].choices = [(r.code, f"{r.code} {r.name}") for r in regencies]
        if len(self.fields["region"].choices) == 1:
            self.fields["region"].initial = self.fields["region"].choices[0][0]
