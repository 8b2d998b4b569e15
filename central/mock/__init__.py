"""The mock central DTSEN/Pusdatin service: a separate process that plays the national data centre over HTTP.

It publishes batches of synthetic families (``registry.synthetic``), takes the villages' verified submissions
idempotently, turns accepted ones into KPM determinations and monthly desil publications (``registry.pmt``),
and can inject faults (failures, hangs, dropped connections, duplicated pages) so the portal's client is tested
against the network it will really meet. The contract is ``openapi.yaml`` next to this file; storage is its own
SQLite file (``store.py``), never the portal's database. Start it with ``manage.py run_mock_central``.
"""
