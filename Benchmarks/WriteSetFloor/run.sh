#!/bin/bash
# The least any implementation of eticket's processing and import can cost on this machine: the
# write set alone, in bare tables, against the issue's plain-SQL loop and the bare lines, measured
# in alternation on one throw-away cluster (fsync and synchronous_commit on).
#
#   Benchmarks/WriteSetFloor/run.sh [DOSSIERS [ROUNDS]]      (defaults: 20000 dossiers, 2 rounds)
#
# Needs a release build (`swift build -c release`; ETICKET names another binary), PostgreSQL's
# server binaries with pgbench (the newest /usr/lib/postgresql/*/bin, or ETICKET_PG_BIN), psql and
# python3. Every line: dossiers (or rows) per second, wall clock, 2 connections, batches of 100 for
# the processing and 2,000 for the import; then the WAL written and the server's CPU, per dossier.
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
eticket=${ETICKET:-$here/../../.build/release/eticket}
dossiers=${1:-20000}
rounds=${2:-2}

fail() { echo "run.sh: $*" >&2; exit 1; }
[[ $dossiers =~ ^[0-9]+$ ]] && ((dossiers > 0 && dossiers % 4000 == 0)) ||
    fail "DOSSIERS must be a positive multiple of 4,000 (two connections, batches of 2,000), not '$dossiers'"
[[ $rounds =~ ^[0-9]+$ ]] && ((rounds > 0)) || fail "ROUNDS must be a positive number, not '$rounds'"
. "$here/../throwaway-postgres.sh"
[ -x "$eticket" ] || fail "no $eticket: run swift build -c release first, or set ETICKET"
[ -x "$bin/pgbench" ] || fail "no pgbench in '$bin' (set ETICKET_PG_BIN)"
command -v psql >/dev/null && command -v python3 >/dev/null || fail "needs psql and python3"

work=$(mktemp -d /tmp/eticket-write-set.XXXXXX)
trap 'throwaway_stop; rm -rf "$work"' EXIT
throwaway_init "$work"
throwaway_start
sql() { psql -h "$sock" -U postgres -d floor -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -h "$sock" -U postgres -d postgres -X -qc "CREATE DATABASE floor"
url="host=$sock user=postgres dbname=floor"

echo "… eticket bench on $dossiers dossiers, to fill the database with what the product writes" >&2
"$eticket" db migrate --database-url "$url" > "$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; fail "eticket db migrate failed"; }
"$eticket" bench --dossiers "$dossiers" --latency-samples 0 --no-baseline --database-url "$url" --format json > "$work/bench.json"
sql -f "$here/tables.sql"
count() { sql -Atc "SELECT count(*) FROM $1"; }
[ "$(count floor_outcome)" = "$dossiers" ] && [ "$(count floor_emails_source)" -gt 0 ] && [ "$(count floor_rights_source)" -gt 0 ] ||
    fail "the bench left no decision for every dossier, or no email or right to replay"

echo "… the import's lines, in chunks of 2,000" >&2
lines=$work/lines
mkdir "$lines"
# Children are the one part stored as rows: rights and reservations name a child by its id; the
# other parts are read from the content (migration 032).
parts=(children)
declare -A part_columns
for part in "${parts[@]}"; do
    part_columns[$part]=$(sql -Atc "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position)
                                    FROM information_schema.columns WHERE table_name = '$part' AND column_name <> 'id'")
done
chunks=$((dossiers / 2000))
for ((k = 0; k < chunks; k++)); do
    range="BETWEEN $((k * 2000 + 1)) AND $((k * 2000 + 2000))"
    sql -c "\\copy (SELECT id, structure_id, account_id, external_id, version, state, confirmed, submitted_at, content FROM dossiers WHERE id $range ORDER BY id) TO '$lines/dossiers$k'"
    # COPY's text format escapes tabs inside a value, so the columns cut out are whole.
    cut -f1,9 "$lines/dossiers$k" > "$lines/lines$k"
    cut -f1 "$lines/dossiers$k" > "$lines/queue$k"
    for part in "${parts[@]}"; do
        sql -c "\\copy (SELECT ${part_columns[$part]} FROM $part WHERE dossier_id $range ORDER BY id) TO '$lines/$part$k'"
    done
done
part_rows=$(sql -Atc "SELECT count(*) FROM children")

wal() { sql -Atc "SELECT pg_current_wal_insert_lsn()"; }
wal_per_dossier() { sql -Atc "SELECT round(pg_wal_lsn_diff('$2', '$1') / $dossiers)"; }
# The server's CPU in clock ticks: the postmaster, the children it has reaped (a finished session's
# backend) and the live ones. Read a moment after the clients finish, so that their backends have
# been reaped rather than caught half-way.
server_ticks() {
    local postmaster
    sleep 0.5
    postmaster=$(as_server head -1 "$server/data/postmaster.pid")
    { awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat"
      for child in $(pgrep -P "$postmaster"); do awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || true; done
    } | awk -v hz="$(getconf CLK_TCK)" '{ticks += $1} END {print ticks * 1000 / hz}'
}
cpu_per_dossier() { python3 -c "print('%.3f' % (($2 - $1) / $dossiers))"; }
report() { python3 -c "print('%-40s %8.0f /s %7s B %7s ms' % ('$1', $2, '$3', '$4'))"; }

# The replays' scripts, in $work: the loop, the write set, and two variants of it, one with the
# audit events, one with the state kept in a narrow table of its own (a few bytes a change instead
# of a new version of the 1.6 KB dossier row).
cp "$here/loop.sql" "$here/write-set.sql" "$work/"
narrow_state='UPDATE floor_states s SET state = b.final_state FROM batch b WHERE s.dossier_id = b.id'
awk -v events="$(cat "$here/audit-events.sql")" '/^SELECT count\(\*\) FROM claimed;$/ {print events} {print}' \
    "$here/write-set.sql" > "$work/write-set-audited.sql"
sed "s/UPDATE floor_dossiers d SET state = b.final_state, updated_at = now() FROM batch b WHERE d.id = b.id/$narrow_state/" \
    "$here/write-set.sql" > "$work/write-set-narrow.sql"
grep -q "INSERT INTO floor_events" "$work/write-set-audited.sql" && grep -q "UPDATE floor_states" "$work/write-set-narrow.sql" ||
    fail "write-set.sql no longer has the lines its variants change"

# One pgbench run of SCRIPT over the whole queue: 2 clients, batches of 100.
processing() {
    local script=$1 before after tps cpu_before cpu_after
    sql -f "$here/reset-processing.sql"
    cpu_before=$(server_ticks); before=$(wal)
    "$bin/pgbench" -h "$sock" -U postgres -n -c 2 -j 2 -t $((dossiers / 200)) -f "$work/$script.sql" floor > "$work/pgbench.out" 2>&1 ||
        { tail -5 "$work/pgbench.out" >&2; fail "pgbench $script.sql failed"; }
    cpu_after=$(server_ticks); after=$(wal)
    tps=$(awk '/^tps/ {print $3}' "$work/pgbench.out")
    if [ "$script" = loop ]; then
        [ "$(count floor_loop_queue)" = 0 ] && [ "$(count floor_loop_decisions)" = "$dossiers" ] && [ "$(count floor_loop_outbox)" = "$dossiers" ] ||
            fail "loop.sql did not move every row"
    else
        [ "$(count floor_queue)" = 0 ] && [ "$(count floor_decisions)" = "$dossiers" ] &&
            [ "$(count floor_outbox)" = "$(count floor_emails_source)" ] && [ "$(count floor_rights)" = "$(count floor_rights_source)" ] ||
            fail "$script.sql did not replay every dossier's decision, emails and rights"
    fi
    report "$script" "$tps * 100" "$(wal_per_dossier "$before" "$after")" "$(cpu_per_dossier "$cpu_before" "$cpu_after")"
}

# The import's COPYs for chunk K: the bare lines, the dossier and its queue row, or that and the children as rows.
copies() {
    local k=$1 shape=$2
    echo "BEGIN;"
    if [ "$shape" = bare-lines ]; then
        echo "\\copy floor_import_lines FROM '$lines/lines$k'"
    else
        echo "\\copy floor_import_dossiers (id, structure_id, account_id, external_id, version, state, confirmed, submitted_at, content) FROM '$lines/dossiers$k'"
        echo "\\copy floor_import_queue (dossier_id) FROM '$lines/queue$k'"
        if [ "$shape" = children-as-rows ]; then
            for part in "${parts[@]}"; do echo "\\copy floor_import_$part (${part_columns[$part]}) FROM '$lines/$part$k'"; done
        fi
    fi
    echo "COMMIT;"
}
import() {
    local shape=$1 before after start end even odd stored expected_parts=0 cpu_before cpu_after
    sql -c "TRUNCATE floor_import_dossiers, floor_import_children, floor_import_queue, floor_import_lines" -c "CHECKPOINT"
    cpu_before=$(server_ticks); before=$(wal); start=$(date +%s.%N)
    (for ((k = 0; k < chunks; k += 2)); do copies $k "$shape"; done | sql) & even=$!
    (for ((k = 1; k < chunks; k += 2)); do copies $k "$shape"; done | sql) & odd=$!
    wait $even && wait $odd || fail "import $shape: a COPY failed"
    end=$(date +%s.%N); after=$(wal); cpu_after=$(server_ticks)
    [ "$shape" = children-as-rows ] && expected_parts=$part_rows
    stored=$(sql -Atc "SELECT (SELECT count(*) FROM floor_import_dossiers) + (SELECT count(*) FROM floor_import_lines)
                              || ' ' || (SELECT count(*) FROM floor_import_children)")
    [ "$stored" = "$dossiers $expected_parts" ] || fail "import $shape stored $stored (dossiers, part rows), not $dossiers $expected_parts"
    report "import: $shape" "$dossiers / ($end - $start)" "$(wal_per_dossier "$before" "$after")" "$(cpu_per_dossier "$cpu_before" "$cpu_after")"
}

python3 -c "
import json; r = json.load(open('$work/bench.json'))
for p in r['phases']:
    if p['name'] in ('import', 'process'):
        print('%-40s %8d /s %7s B %7.3f ms  (eticket bench)' % (p['name'], p['rate'], p['wal_bytes_per_item'], p['cpu']['server_ms_per_item']))"
for ((round = 1; round <= rounds; round++)); do
    echo "round $round"
    for script in loop write-set write-set-audited write-set-narrow; do processing $script; done
    for shape in bare-lines dossier-and-queue children-as-rows; do import $shape; done
done
