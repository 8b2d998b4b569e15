"""Forms for the accounts Dinsos manages."""
from django import forms
from django.utils.translation import gettext_lazy as _

from notifications.channels import PHONE_REGEX

from .models import Role
from .services import MANAGED_ROLES


class VillageAccountForm(forms.Form):
    username = forms.SlugField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=[(r.value, r.label) for r in Role if r in MANAGED_ROLES])
    area_code = forms.CharField(label=_("Area code"), max_length=13,
                                help_text=_("Village code for operators and village heads (12.09.08.2002), "
                                            "kecamatan code for facilitators (12.09.08)."))
    # Staff hear of their queues' news by SMS/WhatsApp at this number (notifications), when it is set.
    phone = forms.RegexField(label=_("Phone"), regex=PHONE_REGEX, max_length=20, required=False,
                             error_messages={"invalid": _("A phone number has 6 to 20 digits, spaces, + or -.")})

    def __init__(self, *args, area_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if area_choices:
            # A picker of the manager's own kecamatan and villages instead of a typed code.
            self.fields["area_code"] = forms.ChoiceField(
                label=_("Area"), choices=[("", _("Choose the village or kecamatan"))] + area_choices,
                help_text=_("A village for operators and village heads, a whole kecamatan for facilitators."))


class TokenForm(forms.Form):
    """A six-digit code from an authenticator app."""

    token = forms.RegexField(label=_("Code from the authenticator app"), regex=r"^\s*\d{6}\s*$", max_length=12,
                             error_messages={"invalid": _("Enter the six digits the app shows.")},
                             widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                           "autofocus": True}))
