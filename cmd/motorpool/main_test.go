package main

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/config"
)

// run executes the root command with args and returns its output and exit
// status as main would compute it.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	var exit exitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.code
	default:
		code = 2
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		code       int
		stdout     []string
		stderr     []string
		notPrinted []string
	}{
		{"valid", "testdata/valid.yaml", 0,
			[]string{
				"connection_limit                             40",
				"url                                          postgresql://app:xxxxx@127.0.0.1:5432/shop?connection_limit=40&pool_timeout=20  testdata/valid.yaml:7:10",
				"min_connections                              2                                                                               preset postgres-api",
				"connect_timeout                              10s                                                                             profile production-web",
				"[service gateway]",
			},
			[]string{"testdata/valid.yaml: valid (0 warnings)"},
			[]string{"app-secret", "url-secret"}},
		{"connection_limit=0", "testdata/zero.yaml", 2, nil,
			[]string{"testdata/zero.yaml:3:10: databases.shop.url: connection_limit must be between 1 and 10000, got 0\n", "invalid (1 error)"}, nil},
		{"typo", "testdata/typo.yaml", 2, nil,
			[]string{`testdata/typo.yaml:3:10: databases.shop.url: unknown parameter "conection_limit" for postgres (did you mean connection_limit?)`}, nil},
		{"warnings allowed", "testdata/warning.yaml", 0, []string{"[database shop]"},
			[]string{"warning: testdata/warning.yaml: auth: no users, no auth_query and no database URL with a user and password: no client can log in", "valid (1 warning)"}, nil},
		{"missing file", "testdata/nope.yaml", 2, nil, []string{"open testdata/nope.yaml: no such file or directory"}, nil},
		{"serve proxies PostgreSQL only", "testdata/mysql.yaml", 2, nil, []string{
			"testdata/mysql.yaml:6:10: databases.orders.url: motorpool serve proxies PostgreSQL only (postgresql:// or postgres://), not mysql\n",
			"invalid (1 error)"}, nil},
		{"TLS files serve cannot load", "testdata/tlsfiles.yaml", 2, nil, []string{
			"testdata/tlsfiles.yaml:2:14: tls: cannot load cert and key: open testdata/nonexistent-cert.pem: no such file or directory\n",
			"testdata/tlsfiles.yaml:5:10: databases.shop.url: sslrootcert: open testdata/nonexistent-ca.pem: no such file or directory\n",
			"invalid (2 errors)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, "check", "-c", tt.file)
			assert.Equal(t, tt.code, code, stderr)
			for _, s := range tt.stdout {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tt.stderr {
				assert.Contains(t, stderr, s)
			}
			for _, s := range tt.notPrinted {
				assert.NotContains(t, stdout+stderr, s)
			}
		})
	}
}

func TestCheckPasswordFromEnvironmentIsRedacted(t *testing.T) {
	t.Setenv("MP_TEST_DB_PASSWORD", "env-hunter2")
	t.Setenv("MP_TEST_APP_PASSWORD", "env-app-pw")
	stdout, stderr, code := run(t, "check", "-c", "testdata/valid.yaml")
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stdout+stderr, "hunter2")
	assert.NotContains(t, stdout+stderr, "env-app-pw")
	assert.Contains(t, stdout, "postgresql://app:xxxxx@127.0.0.1:5432/shop")
}

func TestPlural(t *testing.T) {
	tests := []struct {
		n    int
		word string
		want string
	}{
		{0, "client", "0 clients"},
		{1, "client", "1 client"},
		{2, "simulated service", "2 simulated services"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, plural(tt.n, tt.word))
		})
	}
}

func TestVersion(t *testing.T) {
	stdout, _, code := run(t, "version")
	assert.Equal(t, 0, code)
	assert.Equal(t, "motorpool dev ("+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")\n", stdout)
}

func TestPresets(t *testing.T) {
	stdout, _, code := run(t, "presets")
	require.Equal(t, 0, code)
	for _, name := range []string{
		"development", "testing", "production-web", "high-traffic", "background-jobs",
		"postgres-web", "postgres-analytics", "postgres-api", "mysql-read-heavy", "mysql-write-heavy", "mysql-mixed",
		"mongodb-standalone", "mongodb-replica-set",
		"api_gateway", "user_service", "notification_service", "analytics_service", "payment_service", "order_service",
	} {
		assert.Contains(t, stdout, name)
	}
	assert.Regexp(t, `high-traffic +50 +20s +5s +30s +5m +30m +true`, stdout)
	assert.Regexp(t, `api_gateway +30 +10s +5m +high +burst`, stdout)
	for _, line := range strings.Split(stdout, "\n") {
		assert.Equal(t, strings.TrimRight(line, " "), line, "no trailing spaces")
	}
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, code := run(t, "chek")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown command "chek"`)
}

// TestLoadTLS: tls.mode allow without cert and key, which check accepts with a
// warning, serves without TLS rather than failing to start; with a file that
// cannot be read it fails, naming it.
func TestLoadTLS(t *testing.T) {
	conf, err := loadTLS(config.TLS{Mode: config.TLSAllow})
	assert.NoError(t, err)
	assert.Nil(t, conf)
	_, err = loadTLS(config.TLS{Mode: config.TLSRequire, Cert: "/nonexistent/cert.pem", Key: "/nonexistent/key.pem"})
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "/nonexistent/cert.pem")
	}
}

// TestServeLoadsWhatCheckAccepts: serve and its reloads load the file as check
// does, so a file check refuses is refused before serve listens or a reload
// changes anything, with the same messages.
func TestServeLoadsWhatCheckAccepts(t *testing.T) {
	for _, file := range []string{"testdata/mysql.yaml", "testdata/tlsfiles.yaml"} {
		_, checkErr, code := run(t, "check", "-c", file)
		require.Equal(t, 2, code)
		_, err := load(file)
		var errs config.Errors
		require.ErrorAs(t, err, &errs, file)
		for _, e := range errs {
			assert.Contains(t, checkErr, e.Error()+"\n")
		}
		var serveErr bytes.Buffer
		_, err = loadOrReport(&serveErr, file)
		assert.Equal(t, exitError{exitInvalid}, err)
		assert.True(t, strings.HasPrefix(checkErr, serveErr.String()), "serve prints what check prints:\n%s", serveErr.String())
	}
	_, err := load("testdata/valid.yaml")
	assert.NoError(t, err)
}

// TestChangeSummary: a reload's log line lists its changes on one line, so
// that text logs do not show them as "\n" escapes.
func TestChangeSummary(t *testing.T) {
	parse := func(limit string) *config.Config {
		cfg, err := config.Parse("m.yaml", []byte("listen: 127.0.0.1:"+limit+"\ndatabases:\n  shop: { url: \"postgresql://h/shop?connection_limit="+limit+"\" }\n"), nil)
		require.NoError(t, err)
		return cfg
	}
	got := changeSummary(config.Diff(parse("5"), parse("6")))
	assert.Equal(t, "listen 127.0.0.1:5 -> 127.0.0.1:6 (restart); database shop: connection_limit 5 -> 6 (live)", got)
}
