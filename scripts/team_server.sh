#!/usr/bin/env bash
# A team tracking server on this machine: a PostgreSQL cluster of its own and `mlflow server`
# with it as the backend store, proxying artifacts to a local folder.
#
#   scripts/team_server.sh start  DIR [PORT] [--auth]   start (create on first use); PORT 5001
#   scripts/team_server.sh stop   DIR                   stop MLflow, then PostgreSQL
#   scripts/team_server.sh status DIR                   exit 0 when both answer
#   scripts/team_server.sh remove DIR                   stop and delete the cluster and DIR
#   scripts/team_server.sh dump   DIR                   pg_dump of the tracking database
#
# DIR holds everything: the cluster (DIR/pg), its socket (no TCP port: PostgreSQL listens on a
# Unix socket in a private folder only, so nothing but this machine's owner of DIR reaches it),
# the artifacts (DIR/artifacts), the logs and pid files. MLflow listens on 127.0.0.1:PORT.
# With --auth, MLflow's basic-auth app is on: users live in their own PostgreSQL database
# (mlflow_auth), the admin is "admin" with a random password in DIR/auth/admin.password (0600).
#
# PostgreSQL refuses to run as root; run as root (CI, containers), the cluster belongs to the
# `postgres` user of Debian's package and lives in /var/lib/postgresql/resorb-team/<id>, with
# DIR/pg a link to it (a root-owned DIR, e.g. under /root or a 0700 temporary folder, cannot be
# entered by that user). The binaries are Debian's: /usr/lib/postgresql/<version>/bin.
set -euo pipefail

usage() { sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd=$1
dir=$(realpath -m "$2")
port=${3:-5001}
auth=0
for arg in "${@:3}"; do [[ $arg == --auth ]] && auth=1; done
[[ $port == --auth ]] && port=5001

here=$(cd "$(dirname "$0")/.." && pwd)
MLFLOW=${MLFLOW:-$here/.venv/bin/mlflow}
PYTHON=$(dirname "$MLFLOW")/python

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z $pgbin || ! -x $pgbin/initdb ]]; then
    echo "error: PostgreSQL's server binaries are not in /usr/lib/postgresql/*/bin;" \
         "install Debian's package: apt-get install postgresql (or: make team-server)" >&2
    exit 2
fi

# who runs PostgreSQL, and where its cluster lives
if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || { echo "error: running as root needs the 'postgres'" \
        "user of Debian's postgresql package" >&2; exit 2; }
    as_pg() { runuser -u postgres -- "$@"; }
    cluster_home=/var/lib/postgresql/resorb-team/$(printf '%s' "$dir" | sha256sum | cut -c1-16)
else
    as_pg() { "$@"; }
    cluster_home=$dir/pg
fi
data=$cluster_home/data
sock=$cluster_home/run
pgport_file=$dir/pg.port
db_user=resorb

mlflow_pid() { [[ -f $dir/mlflow.pid ]] && kill -0 "$(cat "$dir/mlflow.pid")" 2>/dev/null \
    && cat "$dir/mlflow.pid"; }
pg_running() { [[ -d $data ]] && as_pg "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; }
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
db_uri() {  # SQLAlchemy URI of a database of the cluster, over its socket
    echo "postgresql+psycopg2://$db_user@/$1?host=$sock&port=$(cat "$pgport_file")"
}

start_pg() {
    mkdir -p "$dir"
    if [[ ! -f $data/PG_VERSION ]]; then
        mkdir -p "$cluster_home"
        [[ $EUID -eq 0 ]] && { chown postgres: "$(dirname "$cluster_home")" "$cluster_home";
                               ln -sfn "$cluster_home" "$dir/pg"; }
        as_pg mkdir -p -m 0700 "$sock"
        # local (socket) connections only; the socket folder is private to the cluster's owner
        as_pg "$pgbin/initdb" -D "$data" -U "$db_user" -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=reject >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
        free_port >"$pgport_file"
    fi
    if ! pg_running; then
        as_pg "$pgbin/pg_ctl" -D "$data" -l "$cluster_home/postgres.log" -w -t 60 \
            -o "-p $(cat "$pgport_file") -k $sock -c listen_addresses=''" start >/dev/null \
            || { cat "$cluster_home/postgres.log" >&2; exit 1; }
    fi
    for db in mlflow mlflow_auth; do
        as_pg "$pgbin/psql" -h "$sock" -p "$(cat "$pgport_file")" -U "$db_user" -d postgres \
            -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
            || as_pg "$pgbin/createdb" -h "$sock" -p "$(cat "$pgport_file")" -U "$db_user" "$db"
    done
}

write_auth_config() {
    mkdir -p -m 0700 "$dir/auth"
    if [[ ! -f $dir/auth/admin.password ]]; then
        (umask 077; "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))' \
            >"$dir/auth/admin.password"
         "$PYTHON" -c 'import secrets; print(secrets.token_hex(32))' >"$dir/auth/secret_key")
    fi
    # default_permission EDIT: every signed-in team member may log runs and register versions;
    # the admin can narrow it per experiment and model (see docs/team-server.md)
    cat >"$dir/auth/basic_auth.ini" <<EOF
[mlflow]
default_permission = EDIT
database_uri = $(db_uri mlflow_auth)
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
EOF
}

start() {
    [[ -x $MLFLOW ]] || { echo "error: no $MLFLOW; run make setup first" >&2; exit 2; }
    start_pg
    if pid=$(mlflow_pid); then
        echo "mlflow server already running (pid $pid) on http://127.0.0.1:$(cat "$dir/mlflow.port")"
        return
    fi
    mkdir -p "$dir/artifacts"
    local extra=()
    if [[ $auth -eq 1 ]]; then
        write_auth_config
        extra=(--app-name basic-auth)
        export MLFLOW_AUTH_CONFIG_PATH=$dir/auth/basic_auth.ini
        MLFLOW_AUTH_ADMIN_PASSWORD=$(cat "$dir/auth/admin.password")
        MLFLOW_FLASK_SERVER_SECRET_KEY=$(cat "$dir/auth/secret_key")
        export MLFLOW_AUTH_ADMIN_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY
    fi
    echo "$port" >"$dir/mlflow.port"
    # its own session, so stop can end the server and its workers as one process group
    setsid "$MLFLOW" server --host 127.0.0.1 --port "$port" --workers "${TEAM_WORKERS:-2}" \
        --backend-store-uri "$(db_uri mlflow)" \
        --serve-artifacts --artifacts-destination "$dir/artifacts" \
        "${extra[@]}" >"$dir/mlflow.log" 2>&1 </dev/null &
    echo $! >"$dir/mlflow.pid"
    for _ in $(seq 1 600); do  # 5 min: workers import MLflow; slow on a busy machine
        if curl -fs -o /dev/null "http://127.0.0.1:$port/health"; then
            echo "team server: http://127.0.0.1:$port  (PostgreSQL socket $sock," \
                 "port $(cat "$pgport_file"); artifacts $dir/artifacts)"
            if [[ $auth -eq 1 ]]; then
                echo "basic auth on: admin password in $dir/auth/admin.password"
            fi
            return 0
        fi
        kill -0 "$(cat "$dir/mlflow.pid")" 2>/dev/null || break
        sleep 0.5
    done
    echo "error: mlflow server did not answer on 127.0.0.1:$port; its log:" >&2
    tail -n 30 "$dir/mlflow.log" >&2
    stop
    exit 1
}

stop() {
    if pid=$(mlflow_pid); then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$dir/mlflow.pid"
    if pg_running; then
        as_pg "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
}

status() {
    pg_running && mlflow_pid >/dev/null \
        && curl -fs -o /dev/null "http://127.0.0.1:$(cat "$dir/mlflow.port")/health"
}

case $cmd in
    start) start ;;
    stop) stop ;;
    status) status ;;
    remove) stop; rm -rf "$cluster_home" "$dir" ;;
    dump) pg_running || { echo "error: the cluster in $dir is not running" >&2; exit 2; }
          as_pg "$pgbin/pg_dump" -h "$sock" -p "$(cat "$pgport_file")" -U "$db_user" mlflow ;;
    *) usage ;;
esac
