"""Programmes as data: BLTS Kesra (Rp300.000 a month, Oct-Dec 2025, desil 1-4), PKH and BPNT as examples."""
from django.db import migrations

PROGRAMMES = [
    {"code": "BLTS-KESRA", "name": "BLT Sementara Kesejahteraan Rakyat (BLTS Kesra)", "max_desil": 4,
     "monthly_amount": 300_000, "conditions": {"min_living_members": 1}},
    {"code": "PKH", "name": "Program Keluarga Harapan (PKH)", "max_desil": 4, "monthly_amount": 0,
     "conditions": {"min_living_members": 1}},
    {"code": "BPNT", "name": "Bantuan Pangan Non Tunai (BPNT/Sembako)", "max_desil": 4, "monthly_amount": 200_000,
     "conditions": {"min_living_members": 1}},
]
PERIODS = [
    {"programme_id": "BLTS-KESRA", "code": "2025-T4", "name": "Oktober-Desember 2025",
     "months": ["2025-10", "2025-11", "2025-12"], "amount": 900_000},
    {"programme_id": "BPNT", "code": "2025-T4", "name": "Tahap 4 (Oktober-Desember 2025)",
     "months": ["2025-10", "2025-11", "2025-12"], "amount": 600_000},
]


def seed(apps, schema_editor):
    programme = apps.get_model("distribution", "Programme")
    period = apps.get_model("distribution", "PaymentPeriod")
    for data in PROGRAMMES:
        programme.objects.update_or_create(code=data["code"], defaults=data)
    for data in PERIODS:
        period.objects.update_or_create(programme_id=data["programme_id"], code=data["code"], defaults=data)


class Migration(migrations.Migration):
    dependencies = [("distribution", "0003_programme_paymentperiod_disbursement_and_more")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
