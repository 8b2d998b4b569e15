# Portal Verval DTSEN - the two commands a new machine needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_REGENCY ?= 12.09
DEMO_HOUSEHOLDS ?= 3000
DEMO_SEED ?= 2025

.PHONY: run reset test lint security bench venv migrate demo messages clean mock backup restore

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# Installs, migrates, loads the regions and a demo regency, then serves on SQLite with in-process tasks.
run: export DJANGO_DEBUG ?= 1
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_regions
	$(PY) manage.py seed_demo --keep --regency $(DEMO_REGENCY) --households $(DEMO_HOUSEHOLDS) --seed $(DEMO_SEED)
	@echo ""
	@echo "Portal Verval DTSEN: http://127.0.0.1:$(PORT)/  (admin: /admin/, health: /healthz)"
	@echo "Log in with one of the demo accounts printed above."
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# Start the demo over: the SQLite database `make run` uses (and the mock centre's data) are removed; the next
# `make run` builds them again. Refused when DATABASE_URL names another database: that is no demo to wipe.
reset:
	@if [ -n "$$DATABASE_URL" ]; then echo "make reset only removes the SQLite demo (db.sqlite3); DATABASE_URL is set." >&2; exit 2; fi
	rm -f db.sqlite3 db.sqlite3-journal
	rm -rf .mock-central
	@echo "Demo removed. make run builds it again."

# The mock central DTSEN service for the demo regency (a second terminal beside `make run`).
mock: venv
	$(PY) manage.py run_mock_central --port 8765 --data-dir .mock-central --regency $(DEMO_REGENCY) \
		--households $(DEMO_HOUSEHOLDS) --seed $(DEMO_SEED)

# The whole suite. With DATABASE_URL/CELERY_BROKER_URL set (PostgreSQL/Redis) it runs on them.
test: export DJANGO_SECRET_KEY ?= test-only-secret-key-not-for-production
test: export DJANGO_DEBUG ?= 0
# Production redirects to HTTPS; the test client, the live server and the processes tests start speak plain HTTP.
test: export DJANGO_SECURE_SSL_REDIRECT ?= 0
test: venv
	$(PY) -m ruff check .
	$(MAKE) --no-print-directory security
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --fail-on-warn --validate --file /dev/null
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(MAKE) --no-print-directory security

# Bandit over the project's code (bandit.yaml); its notes on reviewed `# nosec` lines are left out of the log.
security: venv
	set -o pipefail; $(PY) -m bandit -q -c bandit.yaml -r . 2>&1 | { grep -v 'nosec encountered' || true; }

# The performance contract at 1,000,000 families (BENCH_FAMILIES=... for another size): about an hour; the
# table goes to bench/results.md. Needs DATABASE_URL=postgres://... (a scratch <name>_bench is made beside it).
bench: export DJANGO_SECRET_KEY ?= bench-only-secret-key
bench: export DJANGO_DEBUG ?= 0
bench: export DJANGO_SECURE_SSL_REDIRECT ?= 0
bench: venv
	$(PY) -m benchmarks $(BENCH_ARGS)

messages: venv
	$(PY) manage.py makemessages -l id --ignore=.venv --ignore=tests --ignore=node_modules --ignore=benchmarks --no-obsolete --add-location file
	$(PY) manage.py compilemessages -l id --ignore=.venv

# PostgreSQL (DATABASE_URL) and uploaded files -> backups/<timestamp>.dump (+ .media.tar.gz); see README.
backup:
	scripts/backup.sh backup

# BACKUP_FILE=backups/<timestamp>.dump make restore  (replaces the objects in DATABASE_URL's database)
restore:
	scripts/backup.sh restore "$(BACKUP_FILE)"

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles test-artifacts .mock-central
