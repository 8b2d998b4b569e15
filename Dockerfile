# Image for the web, worker, beat and mock-central services in docker-compose.yml.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --create-home portal && mkdir -p /app/media /data/mock && chown -R portal /app/media /data/mock
USER portal
EXPOSE 8000
# gunicorn reads its worker count from WEB_CONCURRENCY: 2 x cores + 1 (5 on the 2-core machine make bench
# measures; docs/performance.md). Set it to the host's cores in docker-compose's environment.
ENV WEB_CONCURRENCY=5
CMD ["gunicorn", "dtsen_portal.wsgi", "--bind", "0.0.0.0:8000"]
