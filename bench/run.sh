#!/usr/bin/env bash
# run.sh is what `make bench` runs: it installs PostgreSQL and PgBouncer from Debian
# packages when they are missing, builds motorpool (and measures without it when it
# does not build), and runs the pgbench comparison. Arguments are passed to
# bench/cmd/pgbench-compare; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
./scripts/install-deps.sh postgresql-15 postgresql-client-15 pgbouncer

# A private build, so that the run measures one fixed binary and never replaces
# bin/motorpool under someone else.
motorpool=.tmp/bench/motorpool
mkdir -p "$(dirname "$motorpool")"
if ! go build -o "$motorpool" ./cmd/motorpool; then
	echo "bench: motorpool does not build; measuring direct and PgBouncer only" >&2
	motorpool=
fi
# pgbench needs a descriptor per client; pgbench-compare raises the limit too.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
go build -o .tmp/bench/pgbench-compare ./bench/cmd/pgbench-compare
exec .tmp/bench/pgbench-compare -motorpool="$motorpool" "$@"
