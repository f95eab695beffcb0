#!/usr/bin/env bash
# WAL archiving drill for PostgreSQL (docs/OPERATIONS.md, "PostgreSQL"):
# a throwaway cluster in a temporary directory (never the shared one) is
# configured with the archive_command of the plan, base-backed-up, written
# to, crashed (immediate stop), and recovered from base backup + archive.
# It prints the rows written and the rows recovered, and the time recovery
# took; it exits non-zero when a committed row is missing.
set -euo pipefail
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
PORT=${PORT:-55432}
WORK=$(mktemp -d /tmp/carnet-walarchive.XXXXXX)
AS=""
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; AS="runuser -u postgres --"; fi
cleanup() {
  $AS "$BIN/pg_ctl" -D "$WORK/primary" -m immediate stop >/dev/null 2>&1 || true
  $AS "$BIN/pg_ctl" -D "$WORK/restored" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
$AS mkdir -p "$WORK/archive"
$AS "$BIN/initdb" -D "$WORK/primary" -A trust -U postgres >/dev/null
cat >> "$WORK/primary/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $WORK/archive/%f && cp %p $WORK/archive/%f.tmp && sync $WORK/archive/%f.tmp && mv $WORK/archive/%f.tmp $WORK/archive/%f'
archive_timeout = 60
CONF
$AS "$BIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w start >/dev/null
PSQL="$AS $BIN/psql -h 127.0.0.1 -p $PORT -U postgres -qAt"
$PSQL -c "CREATE TABLE filings (id int PRIMARY KEY, at timestamptz DEFAULT now())"
$PSQL -c "INSERT INTO filings (id) SELECT generate_series(1, 100)"
$AS "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$WORK/base" -Fp -X stream -c fast
$PSQL -c "INSERT INTO filings (id) SELECT generate_series(101, 250)"
$PSQL -c "SELECT pg_switch_wal()" >/dev/null
LAST=$($PSQL -c "SELECT pg_walfile_name(pg_current_wal_lsn())")
for _ in $(seq 1 50); do
  ARCHIVED=$($PSQL -c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
  [ -n "$ARCHIVED" ] && [ "$ARCHIVED" \< "$LAST" -o "$ARCHIVED" = "$LAST" ] && [ -f "$WORK/archive/$ARCHIVED" ] && break
  sleep 0.2
done
WRITTEN=$($PSQL -c "SELECT count(*) FROM filings")
$AS "$BIN/pg_ctl" -D "$WORK/primary" -m immediate stop >/dev/null   # the crash: the primary is lost
START=$(date +%s%N)
$AS cp -a "$WORK/base" "$WORK/restored"
cat >> "$WORK/restored/postgresql.conf" <<CONF
port = $((PORT + 1))
archive_mode = off
restore_command = 'cp $WORK/archive/%f %p'
CONF
$AS touch "$WORK/restored/recovery.signal"
$AS "$BIN/pg_ctl" -D "$WORK/restored" -l "$WORK/restored.log" -w -t 120 start >/dev/null
PSQL2="$AS $BIN/psql -h 127.0.0.1 -p $((PORT + 1)) -U postgres -qAt"
for _ in $(seq 1 100); do
  [ "$($PSQL2 -c 'SELECT pg_is_in_recovery()')" = f ] && break
  sleep 0.1
done
RECOVERED=$($PSQL2 -c "SELECT count(*) FROM filings")
END=$(date +%s%N)
echo "rows written: $WRITTEN, rows recovered from base backup + WAL archive: $RECOVERED, recovery: $(( (END - START) / 1000000 )) ms"
[ "$WRITTEN" = "$RECOVERED" ]
