"""The periodic schedule: pulls every few minutes, the desil publication on the 20th."""

from celery.schedules import crontab
from django.conf import settings

from dtsen_portal.celery import app


def test_every_scheduled_task_exists_and_pulls_run_every_few_minutes():
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
    assert schedule["central-pull-batches"]["schedule"] <= 10 * 60
    assert schedule["central-push-submissions"]["schedule"] <= 10 * 60


def test_desil_is_pulled_on_the_20th_and_not_on_other_days():
    desil = settings.CELERY_BEAT_SCHEDULE["central-pull-desil"]["schedule"]
    assert isinstance(desil, crontab)
    assert 20 in desil.day_of_month and 19 not in desil.day_of_month and 1 not in desil.day_of_month
    assert desil.hour and 10 in desil.hour
