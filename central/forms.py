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
}


class ClashResolveForm(forms.Form):
    resolution = forms.ChoiceField(label=_("Decision"), choices=BatchClash.Resolution.choices,
                                   widget=forms.RadioSelect,
                                   error_messages={"required": _("Choose how to resolve the clash.")})
    note = forms.CharField(label=_("Note (why this decision)"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           error_messages={"required": _("Write a note saying why you chose this.")})

    def choices_with_help(self):
        """(radio widget, explanation) pairs for the template."""
        return [(radio, RESOLUTION_HELP[radio.data["value"]]) for radio in self["resolution"]]
