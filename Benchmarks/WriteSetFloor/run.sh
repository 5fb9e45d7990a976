#!/bin/bash
# The least any implementation of eticket's processing and import can cost on this machine: the
# write set alone, in bare tables, against the issue's plain-SQL loop and the bare lines, measured
# in alternation on one throw-away cluster (fsync and synchronous_commit on).
#
#   Benchmarks/WriteSetFloor/run.sh [DOSSIERS [ROUNDS]]      (defaults: 20000 dossiers, 2 rounds)
#
# Needs a release build (`swift build -c release`), PostgreSQL 15's server binaries and pgbench.
# Every figure is dossiers (or rows) per second, wall clock, 2 connections, batches of 100 for the
# processing and 2,000 for the import; WAL is bytes per dossier.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eticket=${ETICKET:-$here/../../.build/release/eticket}
dossiers=${1:-20000}
rounds=${2:-2}
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$eticket" ] || { echo "no $eticket: run swift build -c release first" >&2; exit 1; }
[ -x "$bin/pgbench" ] || { echo "no pgbench in $bin (set PG_BIN)" >&2; exit 1; }
(( dossiers % 4000 == 0 )) || { echo "DOSSIERS must be a multiple of 4,000 (two connections, batches of 2,000)" >&2; exit 1; }

work=$(mktemp -d /tmp/eticket-write-set.XXXXXX)
as_server=()
if [ "$(id -u)" = 0 ]; then as_server=(runuser -u postgres --); chown postgres "$work"; fi
stop() { "${as_server[@]}" "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap stop EXIT
"${as_server[@]}" mkdir "$work/sock" "$work/data"
"${as_server[@]}" "$bin/initdb" -D "$work/data" -U postgres --auth=trust >/dev/null
"${as_server[@]}" sh -c "printf \"listen_addresses = ''\nunix_socket_directories = '%s'\n\" '$work/sock' >> '$work/data/postgresql.conf'"
"${as_server[@]}" "$bin/pg_ctl" -D "$work/data" -l "$work/data/log" -w start >/dev/null
sql() { psql -h "$work/sock" -U postgres -d floor -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -h "$work/sock" -U postgres -d postgres -X -qc "CREATE DATABASE floor"
url="host=$work/sock user=postgres dbname=floor"

echo "… eticket bench on $dossiers dossiers, to fill the database with what the product writes" >&2
"$eticket" db migrate --database-url "$url" >/dev/null 2>&1
"$eticket" bench --dossiers "$dossiers" --latency-samples 0 --no-baseline --database-url "$url" --format json > "$work/bench.json"
sql -f "$here/tables.sql"
mkdir "$work/lines"
chunks=$((dossiers / 2000))
for ((k = 0; k < chunks; k++)); do
    range="BETWEEN $((k * 2000 + 1)) AND $((k * 2000 + 2000))"
    sql -c "\\copy (SELECT id, structure_id, account_id, external_id, version, state, confirmed, submitted_at, content FROM dossiers WHERE id $range ORDER BY id) TO '$work/lines/dossiers$k'"
    sql -c "\\copy (SELECT id, content FROM dossiers WHERE id $range ORDER BY id) TO '$work/lines/lines$k'"
    sql -c "\\copy (SELECT id FROM dossiers WHERE id $range ORDER BY id) TO '$work/lines/queue$k'"
    for part in children guardians trusted_persons documents; do
        columns=$(sql -Atc "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '$part' AND column_name <> 'id'")
        echo "$columns" > "$work/lines/$part.columns"
        sql -c "\\copy (SELECT $columns FROM $part WHERE dossier_id $range ORDER BY id) TO '$work/lines/$part$k'"
    done
done

wal() { sql -Atc "SELECT pg_current_wal_insert_lsn()"; }
per_item() { sql -Atc "SELECT round(pg_wal_lsn_diff('$2', '$1') / $dossiers)"; }

# One pgbench run of SCRIPT: 2 clients, batches of 100, the whole queue.
processing() {
    sql -f "$here/reset-processing.sql"
    local before after tps
    before=$(wal)
    "$bin/pgbench" -h "$work/sock" -U postgres -n -c 2 -j 2 -t $((dossiers / 200)) -f "$here/$1.sql" floor > "$work/pgbench.out" 2>&1 ||
        { echo "pgbench $1.sql failed:" >&2; grep -i error "$work/pgbench.out" >&2; exit 1; }
    tps=$(awk '/^tps/ {print $3}' "$work/pgbench.out")
    after=$(wal)
    # The reset filled both queues and each script drains its own: one queue's worth must be left.
    left=$(sql -Atc "SELECT (SELECT count(*) FROM floor_queue) + (SELECT count(*) FROM floor_loop_queue) - $dossiers")
    [ -n "$tps" ] && [ "$left" = 0 ] || { echo "$1.sql did not drain its queue ($left rows left)" >&2; exit 1; }
    printf '%-40s %8.0f /s %7s B\n' "$1" "$(python3 -c "print($tps * 100)")" "$(per_item "$before" "$after")"
}

# The import's COPYs for chunk K: the bare lines, the dossier and its queue row, or that and the parts as rows.
copies() {
    local k=$1 lines=$work/lines
    echo "BEGIN;"
    case $2 in
    bare-lines) echo "\\copy floor_import_lines FROM '$lines/lines$k'" ;;
    *)
        echo "\\copy floor_import_dossiers (id, structure_id, account_id, external_id, version, state, confirmed, submitted_at, content) FROM '$lines/dossiers$k'"
        echo "\\copy floor_import_queue (dossier_id) FROM '$lines/queue$k'"
        if [ "$2" = parts-as-rows ]; then
            for part in children guardians trusted_persons documents; do
                echo "\\copy floor_import_$part ($(cat "$lines/$part.columns")) FROM '$lines/$part$k'"
            done
        fi ;;
    esac
    echo "COMMIT;"
}
import() {
    sql -c "TRUNCATE floor_import_dossiers, floor_import_children, floor_import_guardians, floor_import_trusted_persons,
                     floor_import_documents, floor_import_queue, floor_import_lines" -c "CHECKPOINT"
    local before after start end
    before=$(wal); start=$(date +%s.%N)
    (for ((k = 0; k < chunks; k += 2)); do copies $k "$1"; done | sql) &
    (for ((k = 1; k < chunks; k += 2)); do copies $k "$1"; done | sql) &
    wait
    end=$(date +%s.%N); after=$(wal)
    stored=$(sql -Atc "SELECT (SELECT count(*) FROM floor_import_dossiers) + (SELECT count(*) FROM floor_import_lines)")
    [ "$stored" = "$dossiers" ] || { echo "import $1 stored $stored of $dossiers dossiers" >&2; exit 1; }
    printf '%-40s %8.0f /s %7s B\n' "import: $1" "$(python3 -c "print($dossiers / ($end - $start))")" "$(per_item "$before" "$after")"
}

python3 -c "
import json; r = json.load(open('$work/bench.json'))
for p in r['phases']:
    if p['name'] in ('import', 'process'): print('%-40s %8d /s %7s B  (eticket bench)' % (p['name'], p['rate'], p.get('wal_bytes_per_item', '')))"
for ((round = 1; round <= rounds; round++)); do
    echo "round $round"
    processing loop
    processing write-set
    processing write-set-audited
    processing write-set-narrow
    import bare-lines
    import dossier-and-queue
    import parts-as-rows
done
