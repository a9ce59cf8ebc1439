package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/motorpool/motorpool/internal/testenv"
)

// TestPsqlRunsQueriesAndCopiesBothWays: psql through motorpool runs a script with
// variables, a transaction and an error, and \copy moves a file in and back out
// unchanged.
func TestPsqlRunsQueriesAndCopiesBothWays(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "psql")
	e := start(t, setup{PoolSize: 2})
	mustExec(t, e.Direct(t), "CREATE TABLE notes (id int PRIMARY KEY, body text, at date)", "GRANT ALL ON notes TO PUBLIC")
	conn := e.pgKV(appUser, "", "application_name=psql-e2e")
	pw := []string{"PGPASSWORD=" + appPassword}

	out := tool(t, "psql", pw, strings.NewReader(`\set n 21
SELECT :n * 2 AS answer;
BEGIN;
INSERT INTO notes VALUES (1, 'one', '2024-01-01');
SELECT count(*) FROM notes;
COMMIT;
SELECT current_setting('application_name');
SELECT 1/0;
SELECT 'still here';
`), conn, "-X", "-A", "-t", "-q")
	for _, want := range []string{"42\n", "1\n", "psql-e2e\n", "division by zero", "still here\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("psql output lacks %q:\n%s", want, out)
		}
	}

	dir := t.TempDir()
	in, back := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.csv")
	var csv strings.Builder
	for i := 2; i < 3000; i++ {
		fmt.Fprintf(&csv, "%d,\"line %d, with \"\"quotes\"\" and a comma\",2024-02-%02d\n", i, i, i%28+1)
	}
	if err := os.WriteFile(in, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, "psql", pw, nil, conn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", `\copy notes FROM '`+in+`' CSV`)
	tool(t, "psql", pw, nil, conn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", `\copy (SELECT * FROM notes WHERE id >= 2 ORDER BY id) TO '`+back+`' CSV`)
	got, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != csv.String() {
		t.Fatalf("\\copy out differs from \\copy in (%d vs %d bytes)", len(got), csv.Len())
	}
	if n := queryInt(t, e.Direct(t), "SELECT count(*) FROM notes"); n != 2999 {
		t.Fatalf("%d rows in the table, want 2999", n)
	}
}

var (
	pgbenchProcessed = regexp.MustCompile(`number of transactions actually processed: (\d+)/(\d+)`)
	pgbenchFailed    = regexp.MustCompile(`number of failed transactions: (\d+)`)
)

// TestPgbenchWithTwoHundredClientsOnAPoolOfTen runs pgbench's select-only and TPC-B
// scripts with 200 clients through a transaction-mode pool of 10 server connections,
// in the simple, extended and prepared protocols: every transaction completes, none
// fails. In prepared mode pgbench 15 prepares each statement with a Parse and Sync of
// its own the first time it runs it; motorpool answers those itself, so 200 clients
// sharing 10 connections do not wait on each other.
func TestPgbenchWithTwoHundredClientsOnAPoolOfTen(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "pgbench")
	e := start(t, setup{PoolSize: 10, URLParams: "pool_timeout=120"})
	h, p := e.hostPort()
	pgH, pgP := e.PG.Host, e.PG.Port
	tool(t, "pgbench", nil, nil, "-i", "-q", "-s", "1", "-h", pgH, "-p", strconv.Itoa(pgP), "-U", e.PG.SuperUser, e.DB)
	mustExec(t, e.Direct(t), "GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC")
	const clients = 200
	for _, script := range []struct {
		name  string
		args  []string
		perCl int
	}{
		{"select-only", []string{"-S"}, 20},
		{"TPC-B", nil, 5},
	} {
		for _, proto := range []string{"simple", "extended", "prepared"} {
			t.Run(script.name+" "+proto, func(t *testing.T) {
				args := append([]string{"-n", "-c", strconv.Itoa(clients), "-j", "2", "-t", strconv.Itoa(script.perCl), "-M", proto,
					"-h", h, "-p", strconv.Itoa(p), "-U", appUser}, script.args...)
				out, err := toolErr(t, "pgbench", []string{"PGPASSWORD=" + appPassword}, nil, append(args, e.DB)...)
				if err != nil {
					t.Fatalf("pgbench: %v\n%s", err, out)
				}
				m := pgbenchProcessed.FindStringSubmatch(out)
				want := strconv.Itoa(clients * script.perCl)
				if m == nil || m[1] != want || m[2] != want {
					t.Fatalf("transactions processed: %v, want %s/%s\n%s", m, want, want, out)
				}
				if f := pgbenchFailed.FindStringSubmatch(out); f == nil || f[1] != "0" {
					t.Fatalf("failed transactions: %v, want 0\n%s", f, out)
				}
				if strings.Contains(out, "aborted") || strings.Contains(out, "ERROR") {
					t.Fatalf("pgbench reported errors:\n%s", out)
				}
				for _, line := range strings.Split(out, "\n") {
					if strings.HasPrefix(line, "number of transactions actually") || strings.HasPrefix(line, "number of failed") || strings.HasPrefix(line, "tps") {
						t.Log(line)
					}
				}
			})
		}
	}
	if n := queryInt(t, e.Direct(t), "SELECT count(*) FROM pgbench_history"); n != int64(3*clients*5) {
		t.Fatalf("pgbench_history has %d rows, want %d committed TPC-B transactions", n, 3*clients*5)
	}
}
