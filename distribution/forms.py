"""Public forms of Cek Bansos: they limit lengths and catch bots; the services do the rest."""
from django import forms
from django.utils.translation import gettext_lazy as _

from .challenge import MAX_TOKEN_LENGTH
from .models import CitizenReport


class HoneypotMixin(forms.Form):
    # Hidden from people by CSS; a bot that fills every field gives itself away.
    website = forms.CharField(required=False, label=_("Leave this empty"), max_length=200)

    def clean_website(self):
        if self.cleaned_data.get("website"):
            raise forms.ValidationError(_("Something went wrong; please try again."))
        return ""


class ChallengeMixin(forms.Form):
    # The picture's token and the letters typed, once the client or village is over its free allowance.
    challenge = forms.CharField(required=False, max_length=MAX_TOKEN_LENGTH, widget=forms.HiddenInput)
    answer = forms.CharField(label=_("Letters and digits in the picture"), required=False, max_length=20)


class SearchForm(ChallengeMixin, HoneypotMixin):
    village = forms.CharField(max_length=13, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Full name"), min_length=3, max_length=120,
                           help_text=_("As on the KTP or KK. Part of a name finds nobody."))
    # [0-9], not \d: \d also takes Arabic-Indic and other digits.
    nik = forms.RegexField(label=_("NIK (optional)"), regex=r"^[0-9]{16}$", required=False, max_length=16,
                           error_messages={"invalid": _("A NIK has 16 digits.")})


class ReportForm(ChallengeMixin, HoneypotMixin):
    SPECIAL_FIELDS = ("kind", "village", "website", "challenge", "answer")  # laid out by hand in the template

    kind = forms.ChoiceField(label=_("What do you want to report?"), choices=CitizenReport.Kind.choices,
                             widget=forms.RadioSelect)
    village = forms.CharField(max_length=13, widget=forms.HiddenInput)
    subject_name = forms.CharField(label=_("Name of the person concerned"), max_length=120)
    subject_nik = forms.RegexField(label=_("Their NIK (optional)"), regex=r"^[0-9]{16}$", required=False,
                                   max_length=16, error_messages={"invalid": _("A NIK has 16 digits.")})
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 4}))
    reporter_name = forms.CharField(label=_("Your name"), max_length=120)
    reporter_phone = forms.RegexField(label=_("Your phone (optional)"), regex=r"^[0-9+ -]{6,20}$", required=False,
                                      max_length=20, error_messages={
                                          "invalid": _("A phone number has 6 to 20 digits, spaces, + or -.")})


class ResolveForm(forms.Form):
    """Dinsos or the village closes a citizen's report; the outcome is as long as the API allows."""

    resolution = forms.CharField(required=False, max_length=2000)


class StatusForm(forms.Form):
    reference = forms.RegexField(label=_("Reference number"), regex=r"^[A-Za-z]{2}-?[A-Za-z0-9]{8}$", max_length=12,
                                 error_messages={"invalid": _("A reference number looks like CB-7KQ2M9XA.")})


class ProgrammeRulesForm(forms.Form):
    """New rules for a programme; they wait for a second administrator's confirmation."""

    programme_code = forms.SlugField(max_length=30, widget=forms.HiddenInput)
    max_desil = forms.IntegerField(label=_("Highest desil that qualifies"), min_value=1, max_value=10)
    monthly_amount = forms.IntegerField(label=_("Amount per month (Rp)"), min_value=0, max_value=100_000_000)
    active = forms.BooleanField(label=_("Active"), required=False)
    note = forms.CharField(label=_("Why (for the confirming administrator)"), required=False, max_length=1000,
                           widget=forms.Textarea(attrs={"rows": 2}))
