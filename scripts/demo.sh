#!/usr/bin/env bash
# demo.sh is what `make demo` runs. It builds bin/motorpool, finds a PostgreSQL
# (the one on 127.0.0.1:5432 if it lets the postgres user, or you, in without a
# password; else a private one under .tmp/demo-pg, installing Debian's
# postgresql package first if needed), writes .tmp/demo/motorpool.yaml and runs
# `bin/motorpool demo` with it: motorpool in front of the database and a short
# mixed workload of simulated services going through it.
#
# Environment:
#   DEMO_PGPORT    port of the machine's PostgreSQL to try (default 5432); point it
#                  at a closed port to use a private cluster
#   DEMO_DURATION  how long the workload runs (default 45s)
#   GO             the go command (default: go, else /usr/local/go/bin/go)
#
# Running it again is safe: the private cluster and the demo database are reused,
# and the demo's tables start empty each time.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
machine_port=${DEMO_PGPORT:-5432}
duration=${DEMO_DURATION:-45s}
db=motorpool_demo
conf_dir=$root/.tmp/demo
conf=$conf_dir/motorpool.yaml
pg_dir=$root/.tmp/demo-pg

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# port_open reports whether something accepts TCP connections on 127.0.0.1:$1.
port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# free_port prints the first port from $1 on that nothing listens on, skipping $2.
free_port() {
	local p
	for ((p = $1; p < $1 + 100; p++)); do
		if [[ $p != "${2:-}" ]] && ! port_open "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "no free port in $1-$(($1 + 99))"
}

# pg_psql runs psql without a password or a password file, so that only a login
# motorpool can repeat (no password) counts.
pg_psql() {
	env -u PGPASSWORD PGPASSFILE="$root/.tmp/no-pgpass" PGCONNECT_TIMEOUT=3 "$psql" -X -q -w -At "$@"
}

# ensure_database creates the demo database as user $2 on port $1 unless it exists.
ensure_database() {
	local have
	have=$(pg_psql -h 127.0.0.1 -p "$1" -U "$2" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'") || return 1
	if [[ $have == 1 ]]; then
		note "database $db is there"
		return 0
	fi
	pg_psql -h 127.0.0.1 -p "$1" -U "$2" -d postgres -c "CREATE DATABASE $db" || return 1
	note "created database $db"
}

# find_pgbin prints the newest directory of PostgreSQL server programs.
find_pgbin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

install_postgres() {
	local sudo=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null || die "PostgreSQL is not installed and installing it needs root: run 'apt-get install postgresql' as root, then make demo again"
		sudo=(sudo)
	fi
	say "Installing PostgreSQL from Debian packages: ${sudo[*]:+${sudo[*]} }apt-get update && apt-get install -y postgresql"
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
}

# as_pg runs a command as the postgres system user when we are root
# (PostgreSQL refuses to run as root), else as ourselves.
as_pg() {
	if [[ $(id -u) == 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stop_private() {
	if as_pg "$pgbin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
		say "Stopping the private PostgreSQL"
		as_pg "$pgbin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null
	fi
}

# start_private starts a private cluster under $pg_dir on a free port, creating
# it first if needed, and sets backend_port and backend_user.
start_private() {
	pgbin=$(find_pgbin) || {
		install_postgres
		pgbin=$(find_pgbin) || die "PostgreSQL's server programs are still missing after installing postgresql"
	}
	psql=$pgbin/psql
	local version
	version=$("$pgbin/postgres" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')
	if [[ $(id -u) == 0 ]]; then
		id postgres >/dev/null 2>&1 || die "the postgres system user is missing (Debian's postgresql package creates it)"
		mkdir -p "$pg_dir"
		chown postgres: "$pg_dir"
		chmod 700 "$pg_dir"
		if ! runuser -u postgres -- test -w "$pg_dir"; then
			pg_dir=${TMPDIR:-/tmp}/motorpool-demo-pg
			note "the postgres user cannot reach $root/.tmp; using $pg_dir"
			mkdir -p "$pg_dir"
			chown postgres: "$pg_dir"
			chmod 700 "$pg_dir"
		fi
	else
		mkdir -p "$pg_dir"
		chmod 700 "$pg_dir"
	fi

	# One demo at a time per cluster: a second one would stop the first's
	# PostgreSQL below as "left running by an interrupted run".
	exec {lock_fd}>"$pg_dir/demo.lock"
	flock -n "$lock_fd" || die "another make demo is using the private PostgreSQL in $pg_dir; wait for it to end (or end it with Ctrl-C)"
	stop_private # left running by an interrupted run
	if [[ -f $pg_dir/data/PG_VERSION && $(cat "$pg_dir/data/PG_VERSION") != "$version" ]]; then
		note "the private cluster is from PostgreSQL $(cat "$pg_dir/data/PG_VERSION"); making a new one for $version"
		rm -rf "$pg_dir/data"
	fi
	if [[ ! -f $pg_dir/data/PG_VERSION ]]; then
		say "Creating a private PostgreSQL $version cluster in ${pg_dir#"$root"/}"
		as_pg "$pgbin/initdb" -D "$pg_dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale --no-sync \
			>"$pg_dir/initdb.log" 2>&1 || die "initdb failed; see $pg_dir/initdb.log"
		cat >>"$pg_dir/data/postgresql.conf" <<-'EOF'

			# motorpool demo: loopback only, no unix socket, speed over durability
			listen_addresses = '127.0.0.1'
			unix_socket_directories = ''
			fsync = off
			synchronous_commit = off
			full_page_writes = off
		EOF
	else
		say "Reusing the private PostgreSQL $version cluster in ${pg_dir#"$root"/}"
	fi

	local try
	trap stop_private EXIT # also when a Ctrl-C ends the script while it starts
	for try in 1 2 3; do
		backend_port=$(free_port 15432)
		# {lock_fd}>&-: the server must not hold the lock once the demo ends.
		if as_pg "$pgbin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -o "-p $backend_port" -w -t 60 start >/dev/null {lock_fd}>&-; then
			note "started on 127.0.0.1:$backend_port (log: $pg_dir/postgres.log); it stops when the demo ends"
			backend_user=postgres
			ensure_database "$backend_port" postgres || die "cannot create database $db; see $pg_dir/postgres.log"
			return 0
		fi
		note "could not start on port $backend_port (attempt $try); see $pg_dir/postgres.log"
	done
	die "the private PostgreSQL did not start; see $pg_dir/postgres.log"
}

# use_machine_postgres uses the PostgreSQL on $machine_port if it answers and lets
# postgres or the current user in without a password, and sets backend_port and
# backend_user.
use_machine_postgres() {
	say "Looking for PostgreSQL on 127.0.0.1:$machine_port"
	if ! port_open "$machine_port"; then
		note "nothing answers there"
		return 1
	fi
	psql=$(command -v psql) || {
		note "something answers, but psql is not installed to check it"
		return 1
	}
	local user version
	for user in postgres "$(id -un)"; do
		if version=$(pg_psql -h 127.0.0.1 -p "$machine_port" -U "$user" -d postgres -c 'SHOW server_version' 2>/dev/null); then
			note "PostgreSQL ${version%% *} lets $user in without a password: using it"
			if ensure_database "$machine_port" "$user"; then
				backend_port=$machine_port
				backend_user=$user
				return 0
			fi
			note "but $user cannot create database $db there"
			return 1
		fi
	done
	note "it wants a password for postgres and $(id -un)"
	return 1
}

main() {
	# A Ctrl-C while a step runs (go build, psql, pg_ctl start) may end only
	# that step's program, or none, when it catches the signal itself; bash
	# then carries on. This trap ends the script after the step instead,
	# writing to the original stdout since it may run inside a step's
	# redirection (pg_ctl ... >/dev/null).
	exec {out_fd}>&1
	trap 'printf "\n==> Interrupted before the demo began\n" >&"$out_fd"; exit 130' INT
	local go=${GO:-go}
	if ! command -v "$go" >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
		go=/usr/local/go/bin/go
	fi
	say "Building bin/motorpool"
	"$go" build -o bin/motorpool ./cmd/motorpool

	if ! use_machine_postgres; then
		say "Using a private PostgreSQL instead"
		start_private
	fi

	local listen admin_listen
	listen=$(free_port 6432)
	admin_listen=$(free_port 8080 "$listen")
	mkdir -p "$conf_dir"
	bin/motorpool demo config --backend "postgresql://$backend_user@127.0.0.1:$backend_port/$db?sslmode=disable" \
		--listen "127.0.0.1:$listen" --admin-listen "127.0.0.1:$admin_listen" >"$conf"
	say "Wrote ${conf#"$root"/} (motorpool on 127.0.0.1:$listen, admin API on 127.0.0.1:$admin_listen)"
	say "Running bin/motorpool demo -c ${conf#"$root"/} --duration $duration"
	echo

	# Ctrl-C reaches motorpool too, which ends the workload early and prints its
	# summary; the shell carries on to clean up.
	local status=0 interrupted=0
	trap 'interrupted=1' INT
	bin/motorpool demo -c "$conf" --duration "$duration" || status=$?
	trap - INT
	echo
	if [[ $interrupted == 1 && ($status == 0 || $status == 130) ]]; then
		# Ctrl-C: the summary (if the workload had begun) is above; not a failure.
		say "Ended early. Run it again with: make demo"
		status=0
	elif [[ $status != 0 ]]; then
		say "The demo failed (exit status $status)"
	else
		say "Done. Run it again with: make demo"
	fi
	return "$status"
}

main "$@"
