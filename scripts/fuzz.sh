#!/usr/bin/env bash
# fuzz.sh runs every native Go fuzz target in the module for FUZZTIME each (default
# 30s), one after the other. Seed corpora run anyway in `make test`; this explores.
# Usage: scripts/fuzz.sh [package pattern]   e.g. FUZZTIME=5m scripts/fuzz.sh ./internal/pg
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
fuzztime=${FUZZTIME:-30s}
pattern=${1:-./...}
for pkg in $(go list "$pattern"); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
