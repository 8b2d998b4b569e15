"""Stored pages found by their checksum (a re-published page is copied from the store instead of downloaded
again), and kept uncompressed in PostgreSQL (STORAGE EXTERNAL): a page body is written once and read once by
the ingest, and compressing a million families' pages (pglz) costs a 2-core machine more CPU than the disk
it saves is worth."""
from django.db import migrations, models


def uncompressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE central_downloadedpage ALTER COLUMN body SET STORAGE EXTERNAL")


def compressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE central_downloadedpage ALTER COLUMN body SET STORAGE EXTENDED")


class Migration(migrations.Migration):
    dependencies = [("central", "0003_held_rows_and_family_digests")]

    operations = [
        migrations.AddIndex(model_name="downloadedpage",
                            index=models.Index(fields=["checksum"], name="downloadedpage_checksum")),
        migrations.RunPython(uncompressed, compressed),
    ]
