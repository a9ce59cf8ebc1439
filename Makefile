# motorpool — the two commands a newcomer needs are `make demo` and `make test`.
GO ?= go
BIN := bin/motorpool

.PHONY: build test demo fuzz bench vet

build:
	$(GO) build -o $(BIN) ./cmd/motorpool

vet:
	$(GO) vet ./...

# test runs every test: unit, property, fuzz seeds, and end-to-end tests against
# private PostgreSQL/MariaDB servers that the tests start themselves.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...

demo: build
	./scripts/demo.sh

fuzz:
	./scripts/fuzz.sh

bench:
	./bench/run.sh
