"""Programmes as data: BLTS Kesra (Rp300.000 a month, Oct-Dec 2025, desil 1-4), PKH and BPNT as examples."""
from django.db import migrations


def seed(apps, schema_editor):
    from distribution.reference import seed as seed_reference

    seed_reference(apps.get_model("distribution", "Programme"), apps.get_model("distribution", "PaymentPeriod"))


class Migration(migrations.Migration):
    dependencies = [("distribution", "0003_programme_paymentperiod_disbursement_and_more")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
