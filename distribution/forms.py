"""Public forms of Cek Bansos: they limit lengths and catch bots; the services do the rest."""
from django import forms
from django.utils.translation import gettext_lazy as _

from groundcheck.forms import OUTSIDE_INDONESIA
from notifications.channels import PHONE_REGEX

from .challenge import MAX_TOKEN_LENGTH
from .models import CitizenReport

OBJECTION_NEEDS_IDENTITY = _("An objection can be sent only by someone registered in the same village: fill in "
                             "your NIK, KK number and date of birth.")


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
    # Laid out by hand in the template.
    SPECIAL_FIELDS = ("kind", "village", "website", "challenge", "answer", "latitude", "longitude")

    kind = forms.ChoiceField(label=_("What do you want to report?"), choices=CitizenReport.Kind.choices,
                             widget=forms.RadioSelect)
    village = forms.CharField(max_length=13, widget=forms.HiddenInput)
    subject_name = forms.CharField(label=_("Name of the person concerned"), max_length=120)
    subject_nik = forms.RegexField(label=_("Their NIK (optional)"), regex=r"^[0-9]{16}$", required=False,
                                   max_length=16, error_messages={"invalid": _("A NIK has 16 digits.")})
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 4}))
    reporter_name = forms.CharField(label=_("Your name"), max_length=120,
                                    help_text=_("As on your family card (KK)."))
    # The reporter's own identity, checked against the register: all three with the name, or none to send as
    # someone not registered (an usulan only). A mismatch is never told apart from a match, except that an
    # objection is then refused with one neutral message.
    reporter_nik = forms.RegexField(label=_("Your NIK"), regex=r"^[0-9]{16}$", required=False, max_length=16,
                                    error_messages={"invalid": _("A NIK has 16 digits.")},
                                    help_text=_("Leave your NIK, KK number and date of birth empty if you are not "
                                                "registered; only an usulan can then be sent."))
    reporter_kk = forms.RegexField(label=_("Your family card (KK) number"), regex=r"^[0-9]{16}$", required=False,
                                   max_length=16, error_messages={"invalid": _("A KK number has 16 digits.")})
    reporter_birth_date = forms.DateField(label=_("Your date of birth"), required=False,
                                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reporter_phone = forms.RegexField(label=_("Your phone (optional)"), regex=PHONE_REGEX, required=False,
                                      max_length=20, error_messages={
                                          "invalid": _("A phone number has 6 to 20 digits, spaces, + or -.")})

    # Evidence. The photo is checked and re-encoded as the facilitators' photos are; the position comes from
    # the phone (static/js/report-location.js) and must lie in Indonesia, as a visit's does.
    photo = forms.FileField(label=_("Photo of the house (optional)"), required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}))
    latitude = forms.DecimalField(label=_("Latitude"), required=False, max_digits=9, decimal_places=6,
                                  min_value=-11.5, max_value=6.5,
                                  error_messages={"min_value": OUTSIDE_INDONESIA, "max_value": OUTSIDE_INDONESIA})
    longitude = forms.DecimalField(label=_("Longitude"), required=False, max_digits=9, decimal_places=6,
                                   min_value=94.5, max_value=141.5,
                                   error_messages={"min_value": OUTSIDE_INDONESIA, "max_value": OUTSIDE_INDONESIA})
    reporter_email = forms.EmailField(label=_("Your e-mail (optional)"), required=False, max_length=254,
                                      help_text=_("With a phone number or e-mail, you are told when the report "
                                                  "moves on."))

    IDENTITY = ("reporter_nik", "reporter_kk", "reporter_birth_date")

    def clean(self):
        data = super().clean()
        if (data.get("latitude") is None) != (data.get("longitude") is None) and not (
                self.errors.get("latitude") or self.errors.get("longitude")):
            self.add_error("latitude", _("Send both latitude and longitude, or neither."))
        given = [f for f in self.IDENTITY if data.get(f)]
        if given and len(given) < len(self.IDENTITY):
            for name in self.IDENTITY:
                if name not in given and name not in self.errors:
                    self.add_error(name, _("Fill in your NIK, KK number and date of birth together, or none of "
                                           "them to send as someone not registered."))
        elif not given and data.get("kind") == CitizenReport.Kind.OBJECTION and not self.errors.get("reporter_nik"):
            self.add_error("reporter_nik", OBJECTION_NEEDS_IDENTITY)
        return data


class ResolveForm(forms.Form):
    """Dinsos or the village closes a citizen's report; the outcome is as long as the API allows."""

    resolution = forms.CharField(required=False, max_length=2000)
    # An objection about no family the citizen's NIK found: the family it concerns, by its KK number.
    kk_number = forms.RegexField(required=False, regex=r"^[0-9]{16}$", max_length=16,
                                 error_messages={"invalid": _("A KK number has 16 digits.")})


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


class ChangeDecisionForm(forms.Form):
    """A second account's decision on a change waiting for it (or the preparer's withdrawal)."""

    action = forms.ChoiceField(choices=[("confirm", "confirm"), ("reject", "reject"), ("withdraw", "withdraw")])
    change = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    note = forms.CharField(required=False, max_length=1000)
