"""The access log's filters: who, what kind, from and to which day."""
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import PersonalDataAccess


class AccessFilterForm(forms.Form):
    user = forms.CharField(label=_("User"), required=False, max_length=150)
    kind = forms.ChoiceField(label=_("Kind"), required=False,
                             choices=[("", _("All")), *PersonalDataAccess.Kind.choices])
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
