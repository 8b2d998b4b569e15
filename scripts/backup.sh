#!/usr/bin/env bash
# Backup and restore of the portal: the PostgreSQL database (pg_dump custom format) and the uploaded files.
#
#   scripts/backup.sh backup                 -> $BACKUP_DIR/<timestamp>.dump (+ <timestamp>.media.tar.gz)
#   scripts/backup.sh restore FILE.dump      -> into the database named by DATABASE_URL (objects are replaced)
#
# Reads DATABASE_URL (postgres://user:pass@host:port/name), DJANGO_MEDIA_ROOT (default ./media) and
# BACKUP_DIR (default ./backups). `make backup` and `BACKUP_FILE=... make restore` call this script.
set -euo pipefail

MEDIA_ROOT="${DJANGO_MEDIA_ROOT:-media}"
BACKUP_DIR="${BACKUP_DIR:-backups}"

die() { echo "backup: $*" >&2; exit 1; }

database_url() {
  local url="${DATABASE_URL:-}"
  [ -n "$url" ] || die "DATABASE_URL is not set (postgres://user:password@host:port/name)"
  case "$url" in
    postgres://*|postgresql://*) ;;
    pgsql://*) url="postgresql://${url#pgsql://}" ;;
    *) die "DATABASE_URL is not a PostgreSQL address; backups need PostgreSQL" ;;
  esac
  echo "$url"
}

backup() {
  local url stamp dump media
  url="$(database_url)"
  mkdir -p "$BACKUP_DIR"
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  dump="$BACKUP_DIR/$stamp.dump"
  # Written under a temporary name first: a backup cut short never looks like a complete one.
  pg_dump --format=custom --no-owner --dbname="$url" --file="$dump.partial"
  mv "$dump.partial" "$dump"
  echo "backup: database -> $dump"
  if [ -d "$MEDIA_ROOT" ] && [ -n "$(find "$MEDIA_ROOT" -type f -print -quit)" ]; then
    media="$BACKUP_DIR/$stamp.media.tar.gz"
    tar -czf "$media.partial" -C "$MEDIA_ROOT" .
    mv "$media.partial" "$media"
    echo "backup: media files -> $media"
  fi
}

restore() {
  local file="${1:-}" url media
  [ -n "$file" ] || die "name the backup: BACKUP_FILE=backups/<timestamp>.dump make restore"
  [ -f "$file" ] || die "no such backup file: $file"
  url="$(database_url)"
  # --clean --if-exists: the restored objects replace what is there; --no-owner: whoever restores owns them.
  pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction --dbname="$url" "$file"
  echo "backup: database restored from $file"
  media="${file%.dump}.media.tar.gz"
  if [ -f "$media" ]; then
    mkdir -p "$MEDIA_ROOT"
    tar -xzf "$media" -C "$MEDIA_ROOT"
    echo "backup: media files restored from $media into $MEDIA_ROOT"
  fi
}

case "${1:-}" in
  backup) backup ;;
  restore) restore "${2:-}" ;;
  *) die "usage: $0 backup | restore FILE.dump" ;;
esac
