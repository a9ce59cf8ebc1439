// Package testenv gives tests real databases and tools without depending on the
// state of the machine they run on.
//
// Every server it starts is private to one test binary: it is created with
// initdb or mariadb-install-db in a directory under os.TempDir, runs as a
// non-root system user (postgres, mysql) when the tests run as root, listens on
// 127.0.0.1 on a free port and on a unix socket inside that directory, and is
// stopped when the test binary ends. A binary's directory is named after its pid
// and locked; a later run removes the directories (and kills the servers) of
// binaries that died without cleaning up. Servers are also started with a parent
// death signal, so they do not outlive a killed test binary.
//
// A package whose tests use the shared servers declares
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// and then calls testenv.Postgres(t) or testenv.MariaDB(t) from any test.
// Tests that restart or stop the database use a private instance from
// NewPostgres(t, opts), which is stopped by t.Cleanup.
//
// Missing binaries make a test skip with a hint on how to install them, except
// when the environment variable CI is "true": then they fail the test, so that
// CI never passes by skipping (see Require). scripts/install-deps.sh installs
// everything from Debian packages.
//
// The package is ordinary (non-test) code so that any package can import it from
// its _test.go files; programs such as bench/ use the error-returning
// constructors (StartPostgres, StartMariaDB, StartPgBouncer) instead.
package testenv
