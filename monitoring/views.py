"""Monitoring pages. Views check who may look, read through ``monitoring.selectors`` and render or export."""
from django.contrib.auth.decorators import login_required
from django.http import Http404

# -- the update cycle's scorecard ---------------------------------------------------------------------------


@login_required
def scorecard(request):
    raise Http404  # built in the scorecard work


@login_required
def scorecard_export(request, kind: str):
    raise Http404  # built in the scorecard work


# -- the scorecard ends here ---------------------------------------------------------------------------------


# -- the desil change feed ----------------------------------------------------------------------------------


@login_required
def desil_changes(request):
    raise Http404  # built in the desil change feed work


@login_required
def desil_changes_export(request, kind: str):
    raise Http404  # built in the desil change feed work


# -- the desil change feed ends here -------------------------------------------------------------------------
