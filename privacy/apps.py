from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = _("Personal data")

    def ready(self):
        # A Celery worker replaces the root logger's handlers with its own (worker_hijack_root_logger), which
        # would drop the scrubbing filter that settings.LOGGING installs; put it back on the worker's handlers.
        from celery.signals import after_setup_logger, after_setup_task_logger

        from .logscrub import install_on_handlers

        after_setup_logger.connect(install_on_handlers, weak=False)
        after_setup_task_logger.connect(install_on_handlers, weak=False)
