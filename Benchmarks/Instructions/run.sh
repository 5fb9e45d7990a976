#!/bin/bash
# The instructions a worker's database backend executes per dossier, counted by callgrind: unlike
# CPU seconds, the same for the same tree whatever else the machine does (two runs of one tree:
# 1,447,909 and 1,449,000), so that an A/B of a few per cent can be read (docs/performance.md,
# seventh round).
#
#   Benchmarks/Instructions/run.sh [DOSSIERS]      (default 3,000: past PostgreSQL's first five
#                                                   plans of each prepared statement)
#
# Needs a release build (`swift build -c release`; ETICKET names another binary, ETICKET_HOME its
# sql/ and config/), valgrind, PostgreSQL's server binaries (the newest /usr/lib/postgresql/*/bin,
# or ETICKET_PG_BIN), psql and python3. Prints each worker backend's instructions and their sum
# per dossier; CALLGRIND_KEEP=DIR keeps the callgrind files (for callgrind_annotate) in DIR.
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
eticket=${ETICKET:-$here/../../.build/release/eticket}
dossiers=${1:-3000}

fail() { echo "run.sh: $*" >&2; exit 1; }
[[ $dossiers =~ ^[0-9]+$ ]] && ((dossiers >= 200)) || fail "DOSSIERS must be a number of at least 200, not '$dossiers'"
. "$here/../throwaway-postgres.sh"
[ -x "$eticket" ] || fail "no $eticket: run swift build -c release first, or set ETICKET"
[ -x "$bin/postgres" ] || fail "no postgres in '$bin' (set ETICKET_PG_BIN)"
command -v valgrind >/dev/null && command -v psql >/dev/null && command -v python3 >/dev/null ||
    fail "needs valgrind, psql and python3"

work=$(mktemp -d /tmp/eticket-instructions.XXXXXX)
poller=
stop() {
    [ -n "$poller" ] && kill "$poller" 2>/dev/null || true
    throwaway_stop
    rm -rf "$work"
}
trap stop EXIT
throwaway_init "$work" "autovacuum = off" "shared_buffers = 256MB" "max_wal_size = 4GB" "checkpoint_timeout = 60min"
as_server mkdir "$server/callgrind"
echo "… PostgreSQL under callgrind (about fifty times slower)" >&2
as_server sh -c "valgrind --tool=callgrind --trace-children=yes --callgrind-out-file='$server/callgrind/%p' '$bin/postgres' -D '$server/data' > '$server/log' 2>&1 &"
sql() { psql -h "$sock" -U postgres -d postgres -X -q -At "$@"; }
for _ in $(seq 120); do sql -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
sql -c "SELECT 1" >/dev/null || fail "the server did not start: $(as_server tail -5 "$server/log")"
url="host=$sock user=postgres dbname=postgres"
"$eticket" db migrate --database-url "$url" > "$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; fail "eticket db migrate failed"; }

# The workers' backends are the ones seen running a worker's statements.
(while true; do
    sql -c "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()
              AND (query LIKE 'DELETE FROM dossier_queue WHERE id = ANY (ARRAY(%' OR query LIKE 'WITH input AS (%'
                   OR query LIKE 'SELECT d.id, d.version, d.state::text AS state%')" >> "$work/workers" 2>/dev/null || true
    sleep 0.5
done) &
poller=$!
echo "… eticket bench on $dossiers dossiers, 2 workers, batches of 100" >&2
"$eticket" bench --dossiers "$dossiers" --workers 2 --batch 100 --no-baseline --latency-samples 0 --database-url "$url" \
    > "$work/bench.txt" 2>&1 || { cat "$work/bench.txt" >&2; fail "eticket bench failed"; }
kill "$poller"; poller=
as_server "$bin/pg_ctl" -D "$server/data" -m fast -w stop >/dev/null
# The server's files are read as its user (throwaway-postgres.sh).
if [ -n "${CALLGRIND_KEEP:-}" ]; then
    mkdir -p "$CALLGRIND_KEEP"
    for file in "$server"/callgrind/*; do as_server cat "$file" > "$CALLGRIND_KEEP/$(basename "$file")"; done
fi
as_server python3 - "$server/callgrind" "$work/workers" "$dossiers" <<'PY'
import os, sys
folder, workers, dossiers = sys.argv[1], sys.argv[2], int(sys.argv[3])
pids = sorted({line.strip() for line in open(workers) if line.strip()})
def instructions(pid):
    for line in open(os.path.join(folder, pid), errors="replace"):
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return 0
counts = {pid: instructions(pid) for pid in pids if os.path.exists(os.path.join(folder, pid))}
if len(counts) != 2:
    print(f"warning: {len(counts)} worker backends seen, not 2: {counts}", file=sys.stderr)
for pid, count in counts.items():
    print(f"backend {pid}: {count:,} instructions")
print(f"worker backends: {sum(counts.values()) // dossiers:,} instructions a dossier")
PY
