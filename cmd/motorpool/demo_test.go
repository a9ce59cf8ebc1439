package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/demo"
	"github.com/motorpool/motorpool/internal/testenv"
)

func TestDemoConfig(t *testing.T) {
	stdout, stderr, code := run(t, "demo", "config", "--backend", "postgresql://postgres@127.0.0.1:5432/motorpool_demo?sslmode=disable")
	require.Equal(t, 0, code, stderr)
	file := filepath.Join(t.TempDir(), "demo.yaml")
	require.NoError(t, os.WriteFile(file, []byte(stdout), 0o600))
	_, stderr, code = run(t, "check", "-c", file)
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "valid (0 warnings)")

	_, stderr, code = run(t, "demo", "config")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `required flag(s) "backend" not set`)
}

// TestDemo runs the demo command for a moment against a private PostgreSQL:
// it starts motorpool with its admin server, says where to look, and ends
// with a summary and exit status 0 (no transaction failed).
func TestDemo(t *testing.T) {
	pg := testenv.NewPostgres(t, testenv.PGOptions{})
	require.NoError(t, pg.EnsureDatabase(context.Background(), demo.Database, ""))
	stdout, stderr, code := run(t, "demo", "config", "--backend", pg.DSN(pg.SuperUser, "", demo.Database),
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	require.Equal(t, 0, code, stderr)
	file := filepath.Join(t.TempDir(), "demo.yaml")
	require.NoError(t, os.WriteFile(file, []byte(stdout), 0o600))

	stdout, stderr, code = run(t, "demo", "-c", file, "--duration", "1s")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	for _, re := range []string{
		`your own psql: +psql postgresql://demo:demo@127\.0\.0\.1:\d+/motorpool_demo\n`,
		`admin console: +psql postgresql://admin:admin@127\.0\.0\.1:\d+/motorpool `,
		`dashboard: +http://127\.0\.0\.1:\d+/\n`,
		`\nSummary after \d+s`,
		`\nweb-api +api_gateway +40 +\d+ +0 `,
		`\nusers +user_service +6 +\d+ +0 `,
		`\nanalytics +analytics_service +3 +\d+ +0 `,
		`\nbatch +notification_service +1 +\d+ +0 `,
	} {
		assert.Regexp(t, regexp.MustCompile(re), stdout)
	}
}

func TestDemoMissingConfig(t *testing.T) {
	_, stderr, code := run(t, "demo", "-c", "testdata/nope.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "no such file or directory")
	// and says where such a file comes from
	assert.Contains(t, stderr, `motorpool demo: testdata/nope.yaml is missing: "make demo" writes one`)
	assert.Contains(t, stderr, "motorpool demo config --backend postgresql://USER@HOST:PORT/motorpool_demo > testdata/nope.yaml")
}

// TestDemoInterruptedDuringSetup: a Ctrl-C that arrives while the demo is still
// creating its tables ends it with a message saying so and status 130, not
// with a "context canceled" error that reads like a failure.
func TestDemoInterruptedDuringSetup(t *testing.T) {
	stdout, stderr, code := run(t, "demo", "config", "--backend", "postgresql://postgres@127.0.0.1:1/motorpool_demo?sslmode=disable",
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	require.Equal(t, 0, code, stderr)
	file := filepath.Join(t.TempDir(), "demo.yaml")
	require.NoError(t, os.WriteFile(file, []byte(stdout), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C came at once
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"demo", "-c", file, "--duration", "1s"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(ctx)
	var exit exitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 130, exit.code)
	assert.Contains(t, errOut.String(), "motorpool demo: interrupted while creating the demo tables")
	assert.NotContains(t, errOut.String(), "context canceled")
	assert.NotContains(t, out.String(), "Summary")
}
