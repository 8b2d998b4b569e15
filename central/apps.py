from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CentralConfig(AppConfig):
    name = "central"
    verbose_name = _("Central sync")

    def ready(self):
        from verification import hooks

        from . import submissions, tasks

        hooks.on_rounds_approving(submissions.submissions_record)
        hooks.on_rounds_approved(tasks.push_after_approval)
