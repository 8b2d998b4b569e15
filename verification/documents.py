"""The data of a round's berita acara Musdesus, read from the database for the PDF renderer."""
import logging

from django.db.models import Count
from django.utils import translation
from django.utils.translation import gettext as _

from dtsen_portal.uploads import MAX_UPLOAD_BYTES
from registry.models import Region

from .berita_acara import Attendee, BeritaAcara, DecisionLine, Letterhead, letterhead_parts
from .models import Musdesus, RoundFamily, VerificationRound, VillageLetterhead
from .selectors import round_entries

logger = logging.getLogger(__name__)


def _decision_label(entry) -> str:
    if entry.is_proposal:
        return str(_("Proposal (usulan baru)"))
    return entry.get_decision_display() or str(_("Not decided yet"))


def decision_summary(round_: VerificationRound) -> dict[str, int]:
    """Counts per decision label (proposals counted apart), and the total, in a fixed order."""
    counts = dict(RoundFamily.objects.filter(round=round_, is_proposal=False).values_list("decision")
                  .annotate(n=Count("id")).order_by())
    summary = {str(label): counts.get(value, 0) for value, label in RoundFamily.Decision.choices}
    summary[str(_("Proposal (usulan baru)"))] = RoundFamily.objects.filter(round=round_, is_proposal=True).count()
    if counts.get(""):
        summary[str(_("Not decided yet"))] = counts[""]
    summary[str(_("Total families"))] = sum(counts.values()) + summary[str(_("Proposal (usulan baru)"))]
    return summary


def berita_acara_data(round_: VerificationRound, musdesus: Musdesus) -> BeritaAcara:
    """The document is an Indonesian legal record whatever language the reader's browser asks for."""
    with translation.override("id"):
        return _berita_acara_data(round_, musdesus)


def _berita_acara_data(round_: VerificationRound, musdesus: Musdesus) -> BeritaAcara:
    village = round_.village
    kecamatan = village.parent
    regency = kecamatan.parent if kecamatan else None
    province = regency.parent if regency else None
    lines = [
        DecisionLine(kk_number=e.family.kk_number, head_name=e.head_name or "", dusun=e.family.dusun,
                     rt=e.family.rt, rw=e.family.rw, desil=e.family.desil, decision=_decision_label(e),
                     reason=e.get_reason_display() if e.reason else "", note=e.note)
        for e in round_entries(round_=round_).order_by("family__dusun", "family__rw", "family__rt",
                                                          "family__kk_number")
    ]
    signer = musdesus.signed_off_by
    letterhead = _letterhead_as_signed(village, musdesus)
    return BeritaAcara(
        village_name=village.name, village_kind=str(village.village_kind or _("Desa")),
        kecamatan_name=kecamatan.name if kecamatan else "", regency_name=regency.name if regency else "",
        province_name=province.name if province else "", batch_ref=round_.batch_ref, programme=round_.programme,
        held_on=musdesus.held_on, place=musdesus.place, chair=musdesus.chair, notes=musdesus.notes,
        attendees=[Attendee(a.name, a.role, a.count) for a in musdesus.attendees.all()],
        decisions=lines, summary=decision_summary(round_),
        signed_by=(signer.get_full_name() or signer.username) if signer else None,
        signed_at=musdesus.signed_off_at, document_number=musdesus.document_number,
        letterhead=Letterhead(address=letterhead.address, phone=letterhead.phone, email=letterhead.email,
                              logo=_logo_bytes(letterhead.logo)) if letterhead else Letterhead(),
    )


def _letterhead_as_signed(village: Region, musdesus: Musdesus):
    """The village's letterhead as it was when the head signed the minutes (the current one for a draft), so
    a signed document prints the same whenever it is opened; None when there was none yet."""
    current = VillageLetterhead.objects.filter(village=village).first()
    if current is None or musdesus.signed_off_at is None:
        return current
    try:
        return current.history.as_of(musdesus.signed_off_at)
    except VillageLetterhead.DoesNotExist:
        return None  # set up after the sign-off: the signed minutes had the names alone


def _logo_bytes(logo) -> bytes | None:
    if not logo:
        return None
    try:
        if logo.size > MAX_UPLOAD_BYTES:
            return None  # not a file the upload would have stored
        with logo.open("rb") as file:
            return file.read()
    except OSError:
        # A missing file must not stop the minutes; the letterhead reads without its logo.
        logger.warning("Letterhead logo %s cannot be read", logo.name)
        return None


def letterhead_lines(village: Region, letterhead: VillageLetterhead | None) -> tuple[list[str], list[str]]:
    """The letterhead's names and its address and contact lines as the berita acara prints them (for the
    page that edits them)."""
    kecamatan = village.parent
    regency = kecamatan.parent if kecamatan else None
    with translation.override("id"):
        names, details = letterhead_parts(
            regency_name=regency.name if regency else "", kecamatan_name=kecamatan.name if kecamatan else "",
            village_kind=str(village.village_kind or _("Desa")), village_name=village.name,
            address=letterhead.address if letterhead else "", phone=letterhead.phone if letterhead else "",
            email=letterhead.email if letterhead else "")
    return names, details
