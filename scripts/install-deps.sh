#!/usr/bin/env bash
# install-deps.sh installs, from Debian 12 packages, what `make test` and `make bench`
# need and the machine lacks. It is idempotent: when everything is present it only
# checks (well under a second) and never runs apt-get.
#
# Usage: scripts/install-deps.sh [PACKAGE...]
# With arguments, only those packages of the list below are considered (bench/run.sh
# asks for PostgreSQL and PgBouncer only).
#
# Services are not started: the tests and the benchmark start private instances
# (see internal/testenv). Go itself is not installed from apt; it must be at
# /usr/local/go (Go 1.26) or on PATH.
set -euo pipefail

# Each entry is "package:command". The command, when given, must be on PATH or in
# PostgreSQL's bindir; the package must be installed according to dpkg.
DEPS=(
	"postgresql-15:"              # server, initdb, pg_ctl, pgbench (in the version bindir)
	"postgresql-client-15:psql"   # psql, and the pgbench wrapper on PATH
	"mariadb-server:mariadbd"     # mariadbd, mariadb-install-db
	"mariadb-client:mariadb"
	"pgbouncer:pgbouncer"         # reference pooler for bench/ and compatibility tests
	"sysbench:sysbench"           # MySQL/PostgreSQL load for bench/ (later)
	"chromium:chromium"           # dashboard tests (later)
	"chromium-driver:chromedriver"
	"procps:ps"                   # ps, pkill for tests that inspect processes
	"util-linux:runuser"          # runuser/setpriv: run initdb as a non-root user
)

log() { printf 'install-deps: %s\n' "$*" >&2; }

installed() {
	local pkg=$1 cmd=$2
	[[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" == ii* ]] || return 1
	[[ -z "$cmd" ]] || command -v "$cmd" >/dev/null 2>&1 || return 1
}

check_go() {
	local gobin
	gobin=$(command -v go || true)
	[[ -n "$gobin" ]] || { [[ -x /usr/local/go/bin/go ]] && gobin=/usr/local/go/bin/go; }
	if [[ -z "$gobin" ]]; then
		log "Go not found: install Go 1.26 at /usr/local/go (https://go.dev/dl/); it is not taken from apt"
		exit 1
	fi
	log "using $("$gobin" version)"
}

# wanted reports whether package $1 is among the script's arguments (all are
# wanted when there are none).
wanted() {
	local pkg=$1
	shift
	(($# == 0)) && return 0
	local arg
	for arg; do [[ "$arg" == "$pkg" ]] && return 0; done
	return 1
}

main() {
	check_go
	local arg known entry
	for arg; do
		known=no
		for entry in "${DEPS[@]}"; do [[ "${entry%%:*}" == "$arg" ]] && known=yes; done
		[[ $known == yes ]] || { log "unknown package $arg (not in the list in $0)"; exit 2; }
	done
	local missing=()
	for entry in "${DEPS[@]}"; do
		wanted "${entry%%:*}" "$@" || continue
		installed "${entry%%:*}" "${entry#*:}" || missing+=("${entry%%:*}")
	done
	if ((${#missing[@]} == 0)); then
		log "all packages present"
		return
	fi
	log "installing: ${missing[*]}"
	local sudo=()
	((EUID == 0)) || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	for entry in "${DEPS[@]}"; do
		wanted "${entry%%:*}" "$@" || continue
		installed "${entry%%:*}" "${entry#*:}" || { log "still missing after install: ${entry%%:*}"; exit 1; }
	done
	log "done"
}

main "$@"
