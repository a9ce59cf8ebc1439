package testenv_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/motorpool/motorpool/internal/testenv"
)

// recorder is a testing.TB that records how Require stopped the test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runRecorded(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
	return r
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name, ci, tool     string
		wantSkip, wantFail bool
	}{
		{"present", "true", "sh", false, false},
		{"missing outside CI skips", "", "no-such-tool-xyz", true, false},
		{"missing in CI fails", "true", "no-such-tool-xyz", false, true},
		{"CI=false is not CI", "false", "no-such-tool-xyz", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := runRecorded(t, func(tb testing.TB) { testenv.Require(tb, tt.tool) })
			if r.skipped != tt.wantSkip || r.failed != tt.wantFail {
				t.Fatalf("skipped=%v failed=%v (%q), want skipped=%v failed=%v", r.skipped, r.failed, r.msg, tt.wantSkip, tt.wantFail)
			}
			if (r.skipped || r.failed) && !strings.Contains(r.msg, "install-deps.sh") {
				t.Fatalf("message %q does not say how to install", r.msg)
			}
		})
	}
}

func TestRequireNamesThePackage(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("PATH", t.TempDir())
	r := runRecorded(t, func(tb testing.TB) { testenv.Require(tb, "sysbench") })
	if !r.skipped || !strings.Contains(r.msg, "apt-get install sysbench") {
		t.Fatalf("skipped=%v msg=%q, want a skip naming the sysbench package", r.skipped, r.msg)
	}
}

func TestLookPathFindsPostgresPrograms(t *testing.T) {
	testenv.Require(t, "initdb")
	dir, err := testenv.PGBinDir()
	if err != nil {
		t.Fatal(err)
	}
	got, err := testenv.LookPath("pgbench")
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(dir, "pgbench") {
		t.Fatalf("LookPath(pgbench) = %q, want it from %s", got, dir)
	}
}

func TestFreePort(t *testing.T) {
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d", port)
	}
}

func TestTempDirIsWritableByServerUsers(t *testing.T) {
	dir := testenv.TempDir(t)
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o777 {
		t.Fatalf("mode %v, want 0777", st.Mode().Perm())
	}
	for parent := filepath.Dir(dir); parent != "/"; parent = filepath.Dir(parent) {
		if st, err := os.Stat(parent); err != nil || st.Mode().Perm()&0o005 != 0o005 {
			t.Fatalf("parent %s is not world-searchable: %v %v", parent, st.Mode(), err)
		}
	}
}
