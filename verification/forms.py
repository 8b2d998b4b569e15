"""Forms of the village's work in a round; they validate input, the services apply it."""
from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from dtsen_portal.uploads import DocumentField, LogoField
from registry.models import Family, Member

from .models import NOTE_MAX_LENGTH, ROUND_NOTE_MAX_LENGTH, Musdesus, RoundFamily, VillageLetterhead
from .services import FAMILY_CORRECTABLE, MEMBER_CORRECTABLE, PROPOSAL_FAMILY_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=RoundFamily.Decision.choices, widget=forms.RadioSelect)
    reason = forms.ChoiceField(label=_("Reason (when not eligible)"), required=False,
                               choices=[("", "-")] + list(RoundFamily.Reason.choices))
    note = forms.CharField(label=_("Note"), required=False, max_length=NOTE_MAX_LENGTH,
                           widget=forms.Textarea(attrs={"rows": 2}))
    evidence = DocumentField(label=_("Evidence photo (optional)"), required=False,
                             widget=forms.ClearableFileInput(attrs={"accept": "image/*,application/pdf",
                                                                    "capture": "environment"}))
    version = forms.IntegerField(widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("decision") == RoundFamily.Decision.NOT_ELIGIBLE and not data.get("reason"):
            self.add_error("reason", _("Say why the family is not eligible."))
        return data


class BulkDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision for the selected families"), choices=[
        (RoundFamily.Decision.ELIGIBLE, RoundFamily.Decision.ELIGIBLE.label),
        (RoundFamily.Decision.NOT_ELIGIBLE, RoundFamily.Decision.NOT_ELIGIBLE.label)])
    reason = forms.ChoiceField(label=_("Reason"), required=False,
                               choices=[("", "-")] + list(RoundFamily.Reason.choices))

    def clean(self):
        data = super().clean()
        if data.get("decision") == RoundFamily.Decision.NOT_ELIGIBLE and not data.get("reason"):
            self.add_error("reason", _("Say why the families are not eligible."))
        return data


class FamilyCorrectionForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Family
        fields = [f for f in FAMILY_CORRECTABLE if f not in ("latitude", "longitude")] + ["latitude", "longitude"]


class MemberForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = list(MEMBER_CORRECTABLE)
        widgets = {"birth_date": DateInput(format="%Y-%m-%d"), "life_event_date": DateInput(format="%Y-%m-%d")}

    def validate_unique(self):
        # NIK uniqueness is checked by the service inside its transaction; here it would query per form.
        pass


class MemberChangeForm(MemberForm):
    version = forms.IntegerField(widget=forms.HiddenInput)


class MemberAddForm(MemberForm):
    version = forms.IntegerField(widget=forms.HiddenInput)


class ProposalFamilyForm(forms.ModelForm):
    class Meta:
        model = Family
        fields = list(PROPOSAL_FAMILY_FIELDS)

    def validate_unique(self):
        pass  # duplicates are shown with links by the service, not as a bare "already exists"


class ProposalMemberForm(MemberForm):
    pass


ProposalMemberFormSet = formset_factory(ProposalMemberForm, extra=3, min_num=1, validate_min=True)


class MusdesusForm(forms.ModelForm):
    notes = forms.CharField(label=_("Notes"), required=False, max_length=ROUND_NOTE_MAX_LENGTH,
                            widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = Musdesus
        fields = ["held_on", "place", "chair", "notes"]
        widgets = {"held_on": DateInput(format="%Y-%m-%d"), "notes": forms.Textarea(attrs={"rows": 3})}


class AttendeeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    role = forms.CharField(label=_("Role"), max_length=120)
    count = forms.IntegerField(label=_("Number of people"), min_value=1, max_value=1000, initial=1)


AttendeeFormSet = formset_factory(AttendeeForm, extra=3, min_num=1, validate_min=True)


class ReturnForm(forms.Form):
    """Dinsos returns a round (or asks for a re-check): a note for the round and optional notes per family."""

    note = forms.CharField(required=False, max_length=ROUND_NOTE_MAX_LENGTH)

    def __init__(self, data, *, entry_ids: list[int]):
        super().__init__(data)
        for entry_id in entry_ids:
            self.fields[f"family_note_{entry_id}"] = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH)

    def family_notes(self) -> dict[int, str]:
        return {int(name.removeprefix("family_note_")): value for name, value in self.cleaned_data.items()
                if name.startswith("family_note_") and value.strip()}


class GroundcheckRequestForm(forms.Form):
    note = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH)


class ScanForm(forms.Form):
    scan = DocumentField(label=_("Scan of the signed berita acara (PDF or photo)"),
                         widget=forms.ClearableFileInput(attrs={"accept": "image/*,application/pdf"}))


class LetterheadForm(forms.Form):
    """The village's letterhead; the logo comes back rebuilt (``clean_logo``) or the form is invalid."""

    address = forms.CharField(label=_("Office address"), required=False,
                              max_length=VillageLetterhead._meta.get_field("address").max_length,
                              help_text=_("e.g. Jalan Lintas Sumatera No. 12, Meranti 21264"))
    phone = forms.RegexField(label=_("Office phone (optional)"), regex=r"^[0-9+ ()-]{6,20}$", required=False,
                             max_length=20, error_messages={
                                 "invalid": _("A phone number has 6 to 20 digits, spaces, brackets, + or -.")})
    email = forms.EmailField(label=_("Office e-mail (optional)"), required=False,
                             max_length=VillageLetterhead._meta.get_field("email").max_length)
    logo = LogoField(label=_("Logo (PNG or JPEG, optional)"), required=False,
                     help_text=_("At most 5 MB; it is printed at the left of the letterhead."),
                     widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg"}))
    remove_logo = forms.BooleanField(label=_("Remove the current logo"), required=False)
