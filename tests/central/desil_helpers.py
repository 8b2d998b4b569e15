"""Desil publications in the portal's database without the mock: the pages are served by a stand-in for the
central client, exactly as ``CentralClient.desil_page`` returns them (the real client is tested against the
mock process in test_sync_integration)."""
import datetime as dt

from central.desil import apply_publication
from central.models import DesilPublication
from central.protocol import checksum, combined_checksum


class PageServer:
    """Serves publication pages by (period, number) and counts the requests."""

    def __init__(self):
        self.pages: dict[tuple[str, int], dict] = {}
        self.requests = 0

    def desil_page(self, period: str, number: int) -> dict:
        self.requests += 1
        return self.pages[(period, number)]


def publish(server: PageServer, period: str, rows: list[dict], *, page_size: int = 3) -> DesilPublication:
    """The centre publishes (or replaces) ``period``: the portal discovers it, as ``desil_pull`` does."""
    pages = [rows[i:i + page_size] for i in range(0, len(rows), page_size)] or [[]]
    sums = [checksum(page) for page in pages]
    for number, (page, page_sum) in enumerate(zip(pages, sums, strict=True), start=1):
        server.pages[(period, number)] = {"period": period, "page": number, "page_count": len(pages),
                                          "rows": page, "checksum": page_sum}
    publication, _created = DesilPublication.objects.update_or_create(
        period=dt.date.fromisoformat(period),
        defaults={"row_count": len(rows), "page_count": len(pages), "checksum": combined_checksum(sums),
                  "state": DesilPublication.State.DISCOVERED})
    return publication


def publish_and_apply(server: PageServer, period: str, rows: list[dict], **kwargs) -> DesilPublication:
    publication = publish(server, period, rows, **kwargs)
    apply_publication(publication=publication, client=server)
    publication.refresh_from_db()
    return publication


def row(family_or_id, desil: int, score: float | None, village_code: str | None = None) -> dict:
    """One publication row (protocol v2 carries the village code; v1 rows have none)."""
    central_id = family_or_id if isinstance(family_or_id, str) else family_or_id.central_id
    if village_code is None and not isinstance(family_or_id, str):
        village_code = family_or_id.village_id
    data = {"central_id": central_id, "desil": desil, "score": score}
    if village_code is not None:
        data["village_code"] = village_code
    return data
