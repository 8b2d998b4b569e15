"""Indexes for name and address search (full-text words and pg_trgm trigrams), built without locking writes.

PostgreSQL only: on SQLite (``make run``) the extension and indexes are skipped and search falls back to
LIKE over the rows, which is fine at demo size. The model state is the same on both.
"""
import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models
import django.db.models.expressions
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
from django.db import migrations


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL (members are millions of rows); nothing elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class TrigramExtensionOnPostgres(TrigramExtension):
    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('registry', '0003_member_birth_date_not_in_future'),
    ]

    operations = [
        TrigramExtensionOnPostgres(),
        AddIndexConcurrentlyOnPostgres(
            model_name='family',
            index=django.contrib.postgres.indexes.GinIndex(django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('address'), name='gin_trgm_ops'), name='family_address_trgm'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='member',
            index=django.contrib.postgres.indexes.GinIndex(django.contrib.postgres.search.SearchVector('name', config='simple'), name='member_name_words'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='member',
            index=django.contrib.postgres.indexes.GinIndex(django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('name'), name='gin_trgm_ops'), name='member_name_trgm'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='member',
            index=django.db.models.Index(django.db.models.functions.text.Upper('name'), django.db.models.expressions.F('family'), include=['name'], name='member_name_upper'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='family',
            index=django.db.models.Index(fields=['village', 'id'], name='family_village_id_id'),
        ),
    ]
