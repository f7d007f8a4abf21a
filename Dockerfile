# One image for the web server, the Celery worker and Celery beat
# (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

# WeasyPrint renders invoice PDFs with Pango, HarfBuzz and fontconfig.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
        libfontconfig1 fonts-dejavu-core gettext \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BLOCKHOURS_VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Hashed static files for WhiteNoise. The key exists only for this build step;
# at run time settings refuse to start until SECRET_KEY is provided.
RUN SECRET_KEY=collectstatic-only-not-a-secret SITE_URL=http://build.invalid python manage.py collectstatic --noinput -v 0 \
    && SECRET_KEY=collectstatic-only-not-a-secret SITE_URL=http://build.invalid python manage.py compilemessages -v 0 \
    && useradd --system --home-dir /app --no-create-home blockhours \
    && mkdir -p /app/var/media \
    && chown -R blockhours /app/var

USER blockhours
EXPOSE 8000
CMD ["gunicorn", "blockhours.wsgi", "--config", "python:blockhours.gunicorn_conf", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
