// Package e2e holds motorpool's end-to-end tests: real PostgreSQL servers (private
// ones, from internal/testenv), real clients (pgx, lib/pq, psql, pgbench) and
// motorpool in between, either in the test process (most tests: config.Parse,
// pg.New, proxy.New on 127.0.0.1:0, see start in harness_test.go) or as the built
// binary (signals, reload from a file, TLS from a file, memory per idle client; TestMain
// builds it without the race detector).
//
// PostgreSQL is the reference: where behaviour can be compared, a test runs the same
// conversation straight against the server and requires motorpool's answers to
// match (TestExtendedProtocolAnswersMatchPostgreSQL, the startup parameters and the
// login errors). No test asserts how fast anything is; time limits only stop a broken
// run from hanging.
//
// Run them with
//
//	go test -race ./test/e2e/
//
// E2E_DEBUG=1 logs the in-process proxies at debug level (shown for failing tests, or
// with -v). With CI=true a missing psql or pgbench fails the tests instead of skipping
// them.
package e2e
