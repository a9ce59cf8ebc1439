package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ErrMissing marks errors about a binary that is not installed. Tests skip on it
// outside CI and fail on it in CI (see Unavailable).
var ErrMissing = errors.New("not installed")

// debianPackage names the Debian 12 package that provides each tool the tests
// use; scripts/install-deps.sh installs all of them.
var debianPackage = map[string]string{
	"psql":               "postgresql-client-15",
	"pgbench":            "postgresql-15",
	"initdb":             "postgresql-15",
	"postgres":           "postgresql-15",
	"pg_ctl":             "postgresql-15",
	"pgbouncer":          "pgbouncer",
	"mariadb":            "mariadb-client",
	"mariadbd":           "mariadb-server",
	"mariadb-install-db": "mariadb-server",
	"sysbench":           "sysbench",
	"chromium":           "chromium",
	"chromedriver":       "chromium-driver",
}

// sbinDirs are searched after PATH: servers live there, and a non-root PATH
// usually lacks them.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// CI reports whether the tests run in CI (environment variable CI=true), where a
// missing database or tool is a failure, never a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// LookPath finds a tool: PostgreSQL's programs in PostgreSQL's bindir first (they
// are not on PATH on Debian), then PATH, then the sbin directories. The error
// wraps ErrMissing and says how to install the tool.
func LookPath(tool string) (string, error) {
	if debianPackage[tool] == "postgresql-15" || tool == "psql" {
		if dir, err := PGBinDir(); err == nil {
			if p := filepath.Join(dir, tool); isExecutable(p) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	for _, dir := range sbinDirs {
		if p := filepath.Join(dir, tool); isExecutable(p) {
			return p, nil
		}
	}
	return "", missing(tool)
}

func missing(tool string) error {
	pkg := debianPackage[tool]
	if pkg == "" {
		return fmt.Errorf("%s: %w (run scripts/install-deps.sh)", tool, ErrMissing)
	}
	return fmt.Errorf("%s: %w; install it with scripts/install-deps.sh or apt-get install %s", tool, ErrMissing, pkg)
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Require stops the test when one of tools is missing: t.Fatal when CI is true,
// otherwise t.Skip, with a message saying how to install what is missing.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	var errs []error
	for _, tool := range tools {
		if _, err := LookPath(tool); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		Unavailable(t, err)
	}
}

// Bin returns the path of tool, stopping the test as Require does when it is
// missing.
func Bin(t testing.TB, tool string) string {
	t.Helper()
	p, err := LookPath(tool)
	if err != nil {
		Unavailable(t, err)
	}
	return p
}

// Unavailable stops the test because something it needs is missing or could not
// be started. Outside CI, an error wrapping ErrMissing skips the test; anything
// else, and everything in CI, fails it.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrMissing) && !CI() {
		t.Skipf("testenv: %v", err)
	}
	t.Fatalf("testenv: %v", err)
}
