from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroundcheckConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "groundcheck"
    verbose_name = _("Ground-checks")
