"""The mock central DTSEN/Pusdatin service: a separate process that plays the national data centre over HTTP.

It publishes batches of synthetic families (``registry.synthetic``) with a deadline and an update cycle, takes the
villages' submissions (protocol v2: pages under one idempotency key, six kinds of items; v1 bodies normalised) and
decides them item by item, applying what it accepts - corrections, member changes, usulan as new families,
recommendations and citizen reports - then answers per-item outcomes, KPM determinations (withdrawn when a newer
submission of the round supersedes them) and monthly desil publications (``registry.pmt``). It can inject faults
(failures, hangs, dropped connections, duplicated pages) so the portal's client is tested against the network it
will really meet. The contract is ``openapi.yaml`` next to this file. Modules: ``server`` (HTTP), ``payload``
(body structure and value checks), ``store`` (its own SQLite file, never the portal's database), ``schema``
(tables and upgrading an older data directory), ``decide`` (deciding a submission), ``faults``. Start it with
``manage.py run_mock_central``.
"""
