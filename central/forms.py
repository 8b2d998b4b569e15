"""Forms of the sync pages."""
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import BatchClash

RESOLUTION_HELP = {
    BatchClash.Resolution.TAKE_CENTRE: _("The register takes the centre's family and members (a person listed "
                                         "in another family moves); the family joins the village's verval "
                                         "round of this batch."),
    BatchClash.Resolution.KEEP_REGISTER: _("Nothing in the register changes; the centre's family stays out."),
    BatchClash.Resolution.DUPLICATE: _("The centre's family is the same as the register's family; it stays out "
                                       "and is reported to the centre as a duplicate."),
    BatchClash.Resolution.KEEP_BOTH: _("They are two families; nothing changes."),
    BatchClash.Resolution.MERGE: _("One family: the batch's family is merged into the register's. People in both "
                                   "are kept once (the register's record), the others move in; refused, nothing "
                                   "changed, when the members clash."),
}
# A likely duplicate is already in the register: marking it takes it out of the verval round, not the register.
SIMILAR_DUPLICATE_HELP = _("The batch's family is a duplicate of the register's family: it leaves this batch's "
                           "verval round so it is neither verified nor paid twice, and stays on record.")


class ClashResolveForm(forms.Form):
    """A decision on one adjudication item, among the decisions open to its kind."""

    resolution = forms.ChoiceField(label=_("Decision"), choices=BatchClash.Resolution.choices,
                                   widget=forms.RadioSelect,
                                   error_messages={"required": _("Choose how to resolve the clash.")})
    note = forms.CharField(label=_("Note (why this decision)"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           error_messages={"required": _("Write a note saying why you chose this.")})

    def __init__(self, *args, clash: BatchClash, **kwargs):
        super().__init__(*args, **kwargs)
        self.clash = clash
        self.fields["resolution"].choices = [(value, BatchClash.Resolution(value).label)
                                             for value in clash.resolutions]

    def choices_with_help(self):
        """(radio widget, explanation) pairs for the template."""
        similar = self.clash.kind == BatchClash.Kind.SIMILAR
        return [(radio, SIMILAR_DUPLICATE_HELP if similar and radio.data["value"] == BatchClash.Resolution.DUPLICATE
                 else RESOLUTION_HELP[radio.data["value"]]) for radio in self["resolution"]]
