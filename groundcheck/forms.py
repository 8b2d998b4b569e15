"""The visit form (filled on a phone, possibly offline) and the Dinsos assignment forms (one family, many)."""
from django import forms
from django.utils.translation import gettext_lazy as _

from registry.models import Family
from registry.validators import ascii_int

from .models import Visit
from .services import CHECKLIST_FIELDS, MAX_SELECTED_FAMILIES

TRI_STATE = [("", _("not checked")), ("1", _("yes")), ("0", _("no"))]
OUTSIDE_INDONESIA = _("The GPS position is outside Indonesia; check the phone's location and try again.")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*", "capture": "environment"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultiplePhotoField, self).clean(f, initial) for f in files]


class VisitForm(forms.Form):
    assignment = forms.IntegerField(widget=forms.HiddenInput)
    client_uuid = forms.UUIDField(widget=forms.HiddenInput)
    visited_at = forms.DateTimeField(widget=forms.HiddenInput)
    latitude = forms.DecimalField(required=False, max_digits=9, decimal_places=6, widget=forms.HiddenInput,
                                  min_value=-11.5, max_value=6.5,
                                  error_messages={"min_value": OUTSIDE_INDONESIA, "max_value": OUTSIDE_INDONESIA})
    longitude = forms.DecimalField(required=False, max_digits=9, decimal_places=6, widget=forms.HiddenInput,
                                   min_value=94.5, max_value=141.5,
                                   error_messages={"min_value": OUTSIDE_INDONESIA,
                                                   "max_value": OUTSIDE_INDONESIA})
    accuracy_m = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    recommendation = forms.ChoiceField(label=_("Recommendation"), choices=Visit.Recommendation.choices,
                                       widget=forms.RadioSelect)
    # The API's limits (groundcheck/api/views.py).
    findings = forms.CharField(label=_("Findings"), required=False, max_length=4000,
                               widget=forms.Textarea(attrs={"rows": 3}))
    photos = MultiplePhotoField(label=_("Photos of the house (up to 4)"), required=False)
    # Items found "not as in the register" whose value the facilitator did not note (one value per item).
    mismatches = forms.MultipleChoiceField(label=_("Not as in the register"), required=False,
                                           widget=forms.MultipleHiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in CHECKLIST_FIELDS:
            model_field = Family._meta.get_field(name)
            label = model_field.verbose_name
            if name.startswith("has_"):
                self.fields[name] = forms.TypedChoiceField(label=label, choices=TRI_STATE, required=False,
                                                           coerce=lambda v: v == "1", empty_value=None)
            elif model_field.choices:
                self.fields[name] = forms.ChoiceField(label=label, required=False,
                                                      choices=[("", _("not checked"))] + list(model_field.choices))
            else:
                self.fields[name] = forms.IntegerField(label=label, required=False, min_value=1, max_value=5000)
        self.fields["mismatches"].choices = [(name, self.fields[name].label) for name in CHECKLIST_FIELDS]

    def clean(self):
        data = super().clean()
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise forms.ValidationError(_("Send both latitude and longitude, or neither."))
        return data

    @property
    def checklist_fields(self):
        return [self[name] for name in CHECKLIST_FIELDS]

    def checklist(self) -> dict:
        return {name: self.cleaned_data[name] for name in CHECKLIST_FIELDS
                if self.cleaned_data.get(name) not in (None, "")}

    def mismatched(self) -> list[str]:
        """The items marked "not as in the register" with no value noted (a noted value says more)."""
        checked = self.checklist()
        return [name for name in CHECKLIST_FIELDS
                if name in self.cleaned_data.get("mismatches", ()) and name not in checked]


class AssignmentForm(forms.Form):
    kk_number = forms.CharField(label=_("KK number"), max_length=16)
    facilitator = forms.ModelChoiceField(label=_("Facilitator"), queryset=None)
    note = forms.CharField(label=_("What to check"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, facilitators=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facilitator"].queryset = facilitators


class BulkAssignmentForm(forms.Form):
    """Many families of one village to one facilitator: the whole village, one dusun, or the ticked families.
    The ids are only parsed here; whether they are families of this village is the service's check."""

    SCOPES = [("village", _("Every family of the village")), ("dusun", _("Every family of one dusun")),
              ("selected", _("Only the families ticked below"))]

    village = forms.CharField(widget=forms.HiddenInput, max_length=13)
    facilitator = forms.ModelChoiceField(label=_("Facilitator"), queryset=None,
                                         empty_label=_("Choose the facilitator"))
    scope = forms.ChoiceField(label=_("Which families"), choices=SCOPES, widget=forms.RadioSelect,
                              initial="selected")
    dusun = forms.ChoiceField(label=_("Dusun"), required=False)
    note = forms.CharField(label=_("What to check"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, facilitators=None, dusun_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facilitator"].queryset = facilitators
        self.fields["facilitator"].label_from_instance = (
            lambda user: f"{user.get_full_name()} ({user.username})" if user.get_full_name() else user.username)
        self.fields["dusun"].choices = [("", _("Choose the dusun")), *((d, d) for d in dusun_choices)]
        self.family_ids: list[int] = []

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == "dusun" and not data.get("dusun"):
            self.add_error("dusun", _("Choose the dusun."))
        if scope == "selected":
            values = self.data.getlist("family") if hasattr(self.data, "getlist") else self.data.get("family", [])
            ids = [ascii_int(str(value)) for value in values]
            if not ids:
                self.add_error("scope", _("Select at least one family."))
            elif None in ids or len(ids) > MAX_SELECTED_FAMILIES:
                self.add_error("scope", _("The selection could not be read; select the families again."))
            else:
                self.family_ids = ids
        return data
