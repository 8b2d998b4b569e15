"""The KPM list of a payment period as a sheet: who is to be paid, where, how much, and how it went.

Read through a server-side cursor in chunks (an export of a regency's KPM keeps memory flat); codes are
written as their labels in the language of the request. No NIK: exports show many people at once
(``privacy.masking``)."""
from collections.abc import Iterator

from django.db.models import OuterRef, Subquery

from accounts.scope import scope_queryset
from dtsen_portal.spreadsheets import STREAM_CHUNK_ROWS
from registry.models import Member

from .filters import KpmFilter
from .models import Disbursement, PaymentPeriod

KPM_COLUMNS = (
    ("kecamatan", "family__village__parent__name"), ("desa", "family__village__name"),
    ("nomor_kk", "family__kk_number"), ("kepala_keluarga", "head_name"), ("dusun", "family__dusun"),
    ("desil", "family__desil"), ("program", "programme__name"), ("periode", "period__name"),
    ("saluran", "channel"), ("rencana_rp", "amount_planned"), ("dibayar_rp", "amount_paid"),
    ("status", "status"), ("alasan", "reason"),
)


def kpm_entries(*, user, period: PaymentPeriod):
    """The period's KPM inside ``user``'s area, in village and KK order, with the head of each family."""
    head = Member.objects.filter(family=OuterRef("family_id"), relationship=Member.Relationship.HEAD).order_by("id")
    return (scope_queryset(user, Disbursement.objects.filter(period=period))
            .annotate(head_name=Subquery(head.values("name")[:1]))
            .order_by("family__village_id", "family__kk_number", "pk"))


def kpm_filtered(*, user, period: PaymentPeriod, data) -> KpmFilter:
    """The KPM list's filter over the period's entries (``data``: the query string or a job's filters), so the
    page and every export list the same families."""
    return KpmFilter(data, queryset=kpm_entries(user=user, period=period), user=user)


def kpm_rows(entries) -> tuple[list[str], Iterator[tuple]]:
    """The headers and rows of a KPM list (``kpm_entries``), read in chunks as they are written."""
    channels = {value: str(label) for value, label in Disbursement.Channel.choices}
    statuses = {value: str(label) for value, label in Disbursement.Status.choices}
    values = entries.values_list(*(field for _header, field in KPM_COLUMNS)).iterator(chunk_size=STREAM_CHUNK_ROWS)

    def rows():
        for *who, channel, planned, paid, status, reason in values:
            yield (*who, channels.get(channel, channel), planned, paid, statuses.get(status, status), reason)

    return [header for header, _field in KPM_COLUMNS], rows()


def kpm_sheet(user, period: int, **filters) -> tuple[int, list[str], Iterator[tuple]]:
    """(row count, headers, rows) of the KPM list of payment period ``period`` in ``user``'s area with the
    page's ``filters`` (area, status, q), as a background Excel export writes it
    (``privacy.services.BACKGROUND_EXPORTS``)."""
    entries = kpm_filtered(user=user, period=PaymentPeriod.objects.get(pk=period), data=filters).qs
    return (entries.count(), *kpm_rows(entries))
