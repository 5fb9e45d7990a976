# A throw-away PostgreSQL cluster for the benchmark scripts (WriteSetFloor, MailDelivery,
# Instructions), sourced by them, never run:
#
#   . "$here/../throwaway-postgres.sh"
#   work=$(mktemp -d /tmp/eticket-NAME.XXXXXX)
#   throwaway_init "$work" "shared_buffers = 256MB" …   # initdb in $work/server, settings appended
#   throwaway_start                                     # pg_ctl start, waits (or start it your way)
#   trap 'throwaway_stop; rm -rf "$work"' EXIT
#
# Sets `bin` (ETICKET_PG_BIN, else the newest /usr/lib/postgresql/*/bin), `server` (the cluster's
# folder: data/, sock/ and the server's log) and `sock`; `as_server CMD…` runs CMD as the server's
# user. The server listens only on its socket in `sock`, with trust authentication: the socket's
# folder is the server user's alone (mode 0700), so that no other local user reaches a superuser
# session (as root, the script's own clients still do).
#
# As root, the server runs as postgres (it refuses root), and its files are in a folder of their
# own that postgres owns: the files the script itself writes stay in `work`, which postgres cannot
# write, so that no link planted there is followed by root; what root reads from the server's
# folder, it reads as the server's user (`as_server cat …`).

bin=${ETICKET_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
server=
sock=
server_user=()

as_server() { "${server_user[@]}" "$@"; }

# throwaway_init WORK [SETTING …]: initdb in WORK/server, each SETTING appended to postgresql.conf.
throwaway_init() {
    local work=$1
    shift
    [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] || fail "no initdb and pg_ctl in '$bin' (set ETICKET_PG_BIN)"
    server=$work/server
    sock=$server/sock
    mkdir "$server"
    if [ "$(id -u)" = 0 ]; then
        server_user=(runuser -u postgres --)
        chmod 711 "$work"
        chown postgres "$server"
    fi
    as_server mkdir -m 700 "$sock" "$server/data"
    as_server "$bin/initdb" -D "$server/data" -U postgres --auth=trust >/dev/null
    local settings="listen_addresses = ''"$'\n'"unix_socket_directories = '$sock'"$'\n'"unix_socket_permissions = 0700"
    local setting
    for setting in "$@"; do settings+=$'\n'"$setting"; done
    printf '%s\n' "$settings" | as_server sh -c "cat >> '$server/data/postgresql.conf'"
}

# throwaway_start: starts the server (its log in WORK/server/log) and waits until it accepts.
throwaway_start() {
    as_server "$bin/pg_ctl" -D "$server/data" -l "$server/log" -w start >/dev/null ||
        fail "the server did not start: $(as_server tail -5 "$server/log" 2>/dev/null)"
}

# throwaway_stop: stops the server at once, if it runs (for an EXIT trap; the caller removes WORK).
throwaway_stop() {
    [ -n "$server" ] || return 0
    as_server "$bin/pg_ctl" -D "$server/data" -m immediate stop >/dev/null 2>&1 || true
}
