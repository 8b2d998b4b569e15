"""Reference programmes and payment periods, seeded by migration (and restored by tests that flush tables)."""

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


def seed(programme_model, period_model) -> None:
    """Create or update the reference rows; takes the model classes so a migration can pass its own."""
    for data in PROGRAMMES:
        programme_model.objects.update_or_create(code=data["code"], defaults=data)
    for data in PERIODS:
        period_model.objects.update_or_create(programme_id=data["programme_id"], code=data["code"], defaults=data)
