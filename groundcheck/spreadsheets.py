"""Export of ground-check visit results (django-import-export)."""
from django.utils.translation import gettext as _
from import_export import fields

from dtsen_portal.spreadsheets import SafeExportResource

from .models import Visit


class VisitResource(SafeExportResource):
    desa = fields.Field(attribute="family__village__name", column_name="desa")
    nomor_kk = fields.Field(attribute="family__kk_number", column_name="nomor_kk")
    pendamping = fields.Field(column_name="pendamping")
    dikunjungi = fields.Field(attribute="visited_at", column_name="dikunjungi")
    rekomendasi = fields.Field(column_name="rekomendasi")
    temuan = fields.Field(attribute="findings", column_name="temuan")
    perbedaan = fields.Field(column_name="perbedaan_dengan_register")
    lintang = fields.Field(attribute="latitude", column_name="lintang")
    bujur = fields.Field(attribute="longitude", column_name="bujur")
    akurasi_m = fields.Field(attribute="accuracy_m", column_name="akurasi_m")

    class Meta:
        model = Visit
        fields = ("desa", "nomor_kk", "pendamping", "dikunjungi", "rekomendasi", "temuan", "perbedaan", "lintang",
                  "bujur", "akurasi_m")
        export_order = fields

    def dehydrate_pendamping(self, visit):
        return visit.facilitator.get_full_name() or visit.facilitator.username

    def dehydrate_rekomendasi(self, visit):
        return str(visit.get_recommendation_display())

    def dehydrate_perbedaan(self, visit):
        return "; ".join(_("%(label)s: %(register)s → %(found)s") % {"label": label, "register": register,
                                                                     "found": found}
                         for _field, label, register, found in visit.differences)
