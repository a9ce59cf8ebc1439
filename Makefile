# motorpool — the two commands a newcomer needs are `make demo` and `make test`.
GO ?= go
BIN := bin/motorpool

.PHONY: build test demo fuzz bench bench-quick vet

build:
	$(GO) build -o $(BIN) ./cmd/motorpool

vet:
	$(GO) vet ./...

# test runs every test: unit, property, fuzz seeds, and end-to-end tests against
# private PostgreSQL/MariaDB servers that the tests start themselves.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...

# demo runs motorpool in front of a PostgreSQL (the machine's, or a private one it
# starts, installing Debian's postgresql if needed) and drives a 45 s mixed
# workload through it; see scripts/demo.sh.
demo:
	GO=$(GO) ./scripts/demo.sh

fuzz:
	./scripts/fuzz.sh

# bench compares motorpool with PgBouncer and with direct connections using pgbench
# (about 45 minutes; see bench/README.md). BENCHFLAGS passes options, e.g.
# BENCHFLAGS="-clients 20,100 -rounds 5".
bench:
	./bench/run.sh $(BENCHFLAGS)

# bench-quick is a smoke run of the same matrix (2 s per run, 2 rounds).
bench-quick:
	./bench/run.sh -quick $(BENCHFLAGS)
