"""Periodic work of the citizens' channel."""
from dtsen_portal.celery import app

from . import services


@app.task(name="distribution.escalate_overdue_reports")
def escalate_overdue_reports() -> int:
    """Daily: Dinsos hears of the reports that have just passed their due date."""
    return services.reports_escalate()
