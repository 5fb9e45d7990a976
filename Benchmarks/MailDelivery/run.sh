#!/bin/bash
# Messages per second from `eticket outbox send` to a local relay (aiosmtpd with STARTTLS and AUTH,
# the tests' Tests/SMTPTestRelay/smtp_relay.py), on a throw-away cluster with fsync and
# synchronous_commit on: each message is marked sent in its own committed transaction.
#
#   Benchmarks/MailDelivery/run.sh [DOSSIERS [CONNECTIONS]]     (defaults: 5000 dossiers, 4 connections)
#
# Needs a release build (`swift build -c release`; ETICKET names another binary), PostgreSQL's
# server binaries (the newest /usr/lib/postgresql/*/bin, or ETICKET_PG_BIN), psql, openssl and
# /usr/bin/python3 with python3-aiosmtpd. `eticket bench` fills the outbox with real rendered
# emails (about 1.5 a dossier); the relay parses every message it accepts, as in the tests, unless
# RELAY_OPTIONS=--no-parse (then it only finds the Message-ID: Python's parser, on the same two
# cores, costs more than the sender). KEEP=1 leaves the cluster and the relay running, and says where.
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
eticket=${ETICKET:-$here/../../.build/release/eticket}
dossiers=${1:-5000}
connections=${2:-4}
relay_script=$here/../../Tests/SMTPTestRelay/smtp_relay.py

fail() { echo "run.sh: $*" >&2; exit 1; }
[[ $dossiers =~ ^[0-9]+$ ]] && ((dossiers > 0)) || fail "DOSSIERS must be a positive number, not '$dossiers'"
[[ $connections =~ ^[0-9]+$ ]] && ((connections > 0)) || fail "CONNECTIONS must be a positive number, not '$connections'"
. "$here/../throwaway-postgres.sh"
[ -x "$eticket" ] || fail "no $eticket: run swift build -c release first, or set ETICKET"
command -v psql >/dev/null && command -v openssl >/dev/null || fail "needs psql and openssl"
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || fail "needs /usr/bin/python3 with aiosmtpd (apt install python3-aiosmtpd)"

work=$(mktemp -d /tmp/eticket-mail-bench.XXXXXX)
relay_pid=
stop() {
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true
    throwaway_stop
    rm -rf "$work"
}
if [ -z "${KEEP:-}" ]; then trap stop EXIT; fi
throwaway_init "$work"
throwaway_start
psql -h "$sock" -U postgres -d postgres -X -qc "CREATE DATABASE mail"
url="host=$sock user=postgres dbname=mail"

echo "… eticket bench on $dossiers dossiers, to fill the outbox" >&2
"$eticket" db migrate --database-url "$url" > "$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; fail "eticket db migrate failed"; }
"$eticket" bench --dossiers "$dossiers" --latency-samples 0 --no-baseline --database-url "$url" --format json > "$work/bench.json"
emails=$(psql -h "$sock" -U postgres -d mail -X -Atc "SELECT count(*) FROM email_outbox WHERE delivery = 'pending'")

echo "… a relay with STARTTLS and AUTH" >&2
mkdir "$work/relay"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
/usr/bin/python3 "$relay_script" --dir "$work/relay" --cert "$work/cert.pem" --key "$work/key.pem" \
    --user bench --password bench-password ${RELAY_OPTIONS:-} > "$work/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 1 300); do [ -s "$work/relay/port" ] && break; sleep 0.1; done
[ -s "$work/relay/port" ] || fail "the relay did not start: $(cat "$work/relay.log")"
printf '{"username": "bench", "password": "bench-password"}' > "$work/credentials.json"
chmod 600 "$work/credentials.json"
cat > "$work/config.json" <<JSON
{"smtp": {"host": "127.0.0.1", "port": $(cat "$work/relay/port"), "tls": "starttls",
          "credentialsFile": "$work/credentials.json", "caFile": "$work/cert.pem"}}
JSON

# No size to say: the sender renders each message as it sends it (029), so the outbox holds none.
echo "… outbox send of $emails messages, $connections connections" >&2
# CPU seconds (user + system) of a process, from /proc, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
relay_before=$(ticks "$relay_pid")
/usr/bin/time -f "%U %S" -o "$work/send.cpu" "$eticket" outbox send --connections "$connections" --config "$work/config.json" \
    --database-url "$url" --format json --log-level warning > "$work/send.json"
relay_after=$(ticks "$relay_pid")
received=$(wc -l < "$work/relay/received.jsonl")
[ -n "${KEEP:-}" ] && echo "kept: $work (database: $url; relay pid $relay_pid)" >&2
python3 - "$work/send.json" "$received" "$(cat "$work/send.cpu")" "$((relay_after - relay_before))" "$(getconf CLK_TCK)" "$(uptime)" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
sent = report["sent"]
rate = sent / report["duration_seconds"]
user, system = map(float, sys.argv[3].split())
relay = int(sys.argv[4]) / int(sys.argv[5])
print(f"sent {sent} (deferred {report['deferred']}, failed {report['failed']}, relay received {sys.argv[2]}) "
      f"in {report['duration_seconds']:.2f} s over {report['connections']} connections: {rate:.0f} messages/s")
print(f"CPU per message: sender {1000 * (user + system) / sent:.3f} ms, relay {1000 * relay / sent:.3f} ms;"
      f" load:{sys.argv[6].split('load average:')[-1]}")
PY
