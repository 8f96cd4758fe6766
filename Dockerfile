# AttendX: slim, non-root, face model weights staged and dlib's network converted to ONNX at build time
# (nothing is downloaded at run time). The conversion needs g++ and libdlib-dev: a stage of its own, so
# the image keeps only the converted files.
FROM python:3.11-slim-bookworm AS models
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ libdlib-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/locks/production.txt
COPY . .
RUN DJANGO_SETTINGS_MODULE=attendx.settings.production SECRET_KEY=build-only ALLOWED_HOSTS=build \
    DEEPFACE_HOME=/app/models python manage.py faces_install_weights

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=attendx.settings.production \
    DEEPFACE_HOME=/app/models \
    MEDIA_ROOT=/app/var/media \
    SQLITE_PATH=/app/var/db.sqlite3

RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 attendx

WORKDIR /app
COPY requirements/ requirements/
RUN pip install --require-hashes -r requirements/locks/production.txt

COPY --chown=attendx:attendx . .
COPY --from=models --chown=attendx:attendx /app/models models
RUN mkdir -p var && chown -R attendx:attendx var
USER attendx

RUN SECRET_KEY=build-only ALLOWED_HOSTS=build python manage.py faces_install_weights \
    && SECRET_KEY=build-only ALLOWED_HOSTS=build python manage.py collectstatic --noinput

EXPOSE 10000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10000/healthz', timeout=4)"
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn -c gunicorn.conf.py attendx.wsgi:application"]
