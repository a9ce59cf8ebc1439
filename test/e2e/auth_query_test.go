package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/testenv"
)

// authQueryCap is the most connections motorpool opens for auth_query lookups to one
// database (README, auth).
const authQueryCap = 4

// Roles of the auth_query tests: the users lookups run as, and a user known only to
// PostgreSQL, whom motorpool lets in by looking up its SCRAM verifier.
const (
	aqLookupUser     = "e2e_aq_lookup"
	aqLookupPassword = "aq-lookup-secret"
	aqOtherLookup    = "e2e_aq_lookup2"
	aqClientUser     = "e2e_aq_client"
	aqClientPassword = "aq-client-secret"
)

// startAuthQuery runs a motorpool whose clients other than app are looked up with
// auth_query as lookupUser, through auth_lookup: a SECURITY DEFINER function (as
// PgBouncer's documentation suggests) that also records, in auth_lookups, which
// backend ran each lookup.
func startAuthQuery(t *testing.T) (*env, setup, *pgx.Conn) {
	t.Helper()
	p := testenv.Postgres(t)
	for _, r := range []struct{ name, pw string }{{aqLookupUser, aqLookupPassword}, {aqOtherLookup, aqLookupPassword}, {aqClientUser, aqClientPassword}} {
		p.CreateRole(t, r.name, r.pw, testenv.AuthScram)
	}
	s := setup{PG: p, Database: newDatabase(t, p), TopYAML: authQueryYAML(aqLookupUser)}
	e := start(t, s)
	direct := e.Direct(t)
	mustExec(t, direct,
		`CREATE TABLE auth_lookups (pid int, backend_start timestamptz, looked_up text)`,
		`CREATE FUNCTION auth_lookup(u text) RETURNS TABLE (usename name, passwd text)
		 LANGUAGE sql SECURITY DEFINER AS $$
		   INSERT INTO auth_lookups SELECT pid, backend_start, u FROM pg_stat_activity WHERE pid = pg_backend_pid();
		   SELECT usename, passwd FROM pg_shadow WHERE usename = u;
		 $$`,
		`REVOKE ALL ON FUNCTION auth_lookup(text) FROM PUBLIC`,
		fmt.Sprintf(`GRANT EXECUTE ON FUNCTION auth_lookup(text) TO %s, %s`, aqLookupUser, aqOtherLookup))
	return e, s, direct
}

// authQueryYAML continues setup's auth: mapping with an auth_query run as user.
func authQueryYAML(user string) string {
	return fmt.Sprintf("  auth_query: { user: %s, password: %q, query: \"SELECT * FROM auth_lookup($1)\" }\n", user, aqLookupPassword)
}

// lookupBackends returns how many server backends have run auth_query lookups.
func lookupBackends(t *testing.T, direct *pgx.Conn) int64 {
	t.Helper()
	return queryInt(t, direct, `SELECT count(DISTINCT (pid, backend_start)) FROM auth_lookups`)
}

// openLookupBackends returns how many backends user has open now in the database
// of direct (the roles are shared by the tests, their databases are not).
func openLookupBackends(t *testing.T, direct *pgx.Conn, user string) int64 {
	t.Helper()
	return queryInt(t, direct, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND datname = current_database()`, user)
}

// aqLogin is a login through auth_query and how it must end: "" for success, else
// PostgreSQL's own refusal of the same login.
type aqLogin struct {
	user, password string
	refusal        string
}

func aqLogins(n int) []aqLogin {
	var out []aqLogin
	for i := range n {
		switch i % 3 {
		case 0:
			out = append(out, aqLogin{aqClientUser, aqClientPassword, ""})
		case 1:
			user := fmt.Sprintf("e2e_aq_nobody_%d", i)
			out = append(out, aqLogin{user, "whatever", fmt.Sprintf(`password authentication failed for user "%s"`, user)})
		case 2:
			out = append(out, aqLogin{aqClientUser, "wrong", fmt.Sprintf(`password authentication failed for user "%s"`, aqClientUser)})
		}
	}
	return out
}

// check logs in as l and returns how the login did not end as it must.
func (l aqLogin) check(t *testing.T, e *env) error {
	conn, err := pgx.Connect(ctxFor(t, time.Minute), e.DSN(l.user, l.password, ""))
	if err == nil {
		defer conn.Close(context.Background())
		var one int
		err = conn.QueryRow(ctxFor(t, time.Minute), "SELECT 1").Scan(&one)
	}
	var pgErr *pgconn.PgError
	switch {
	case l.refusal == "" && err != nil:
		return fmt.Errorf("%s: %v; want a session", l.user, err)
	case l.refusal == "":
		return nil
	case !errors.As(err, &pgErr) || pgErr.Code != "28P01" || pgErr.Message != l.refusal || pgErr.Severity != "FATAL":
		return fmt.Errorf("%s/%s: %v; want FATAL 28P01 %s", l.user, l.password, err, l.refusal)
	}
	return nil
}

// TestAuthQueryRunsOnAFewServerConnections: auth_query lookups, one per login attempt
// (unknown users included), run on server connections motorpool keeps, never more
// than the cap per database however many logins arrive at once; logins succeed and
// fail as they do straight on PostgreSQL.
func TestAuthQueryRunsOnAFewServerConnections(t *testing.T) {
	t.Parallel()
	e, _, direct := startAuthQuery(t)

	// PostgreSQL itself refuses these logins with the messages expected below.
	for _, l := range aqLogins(3)[1:] {
		err := connectErr(t, e.PG.DSN(l.user, l.password, e.DB))
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "28P01" || pgErr.Message != l.refusal {
			t.Fatalf("PostgreSQL answered %v; the reference expects 28P01 %s", err, l.refusal)
		}
	}

	for _, l := range aqLogins(12) {
		if err := l.check(t, e); err != nil {
			t.Error(err)
		}
	}
	if n := queryInt(t, direct, `SELECT count(*) FROM auth_lookups`); n != 12 {
		t.Errorf("%d lookups for 12 logins", n)
	}
	if n := lookupBackends(t, direct); n != 1 {
		t.Errorf("12 logins one after another ran their lookups on %d backends; want 1, kept open", n)
	}

	logins := aqLogins(90)
	errs := make(chan error, len(logins))
	var wg sync.WaitGroup
	for _, l := range logins {
		wg.Go(func() { errs <- l.check(t, e) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := lookupBackends(t, direct); n > authQueryCap {
		t.Errorf("90 concurrent logins ran their lookups on %d backends; want at most %d", n, authQueryCap)
	}
	if n := openLookupBackends(t, direct, aqLookupUser); n > authQueryCap {
		t.Errorf("%d lookup backends open; want at most %d", n, authQueryCap)
	}

	// A lookup backend that dies while idle is replaced, unseen by the client.
	mustExec(t, direct, fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s' AND datname = current_database()`, aqLookupUser))
	if err := (aqLogin{aqClientUser, aqClientPassword, ""}).check(t, e); err != nil {
		t.Errorf("after the lookup backends were terminated: %v", err)
	}

	// Closing motorpool closes the lookup connections.
	e.Proxy.Close()
	eventually(t, time.Minute, "lookup backends closed", func() error {
		if n := openLookupBackends(t, direct, aqLookupUser); n != 0 {
			return fmt.Errorf("%d lookup backends open", n)
		}
		return nil
	})
}

// TestAuthQueryReloadClosesTheOldLookupConnections: once a reload changes the auth
// user, the first lookup closes the connections logged in as the old one.
func TestAuthQueryReloadClosesTheOldLookupConnections(t *testing.T) {
	t.Parallel()
	e, s, direct := startAuthQuery(t)
	login := aqLogin{aqClientUser, aqClientPassword, ""}
	if err := login.check(t, e); err != nil {
		t.Fatal(err)
	}
	if n := openLookupBackends(t, direct, aqLookupUser); n != 1 {
		t.Fatalf("%d lookup backends open after one login; want 1, kept", n)
	}

	s.TopYAML = authQueryYAML(aqOtherLookup)
	text := s.yamlFor(e.PG, e.DB, "127.0.0.1:0")
	next, err := config.Parse("test.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	if err := e.Proxy.Reload(next); err != nil {
		t.Fatal(err)
	}
	if err := login.check(t, e); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the old auth user's backend closed", func() error {
		if n := openLookupBackends(t, direct, aqLookupUser); n != 0 {
			return fmt.Errorf("%d backends of %s open", n, aqLookupUser)
		}
		return nil
	})
	if n := openLookupBackends(t, direct, aqOtherLookup); n != 1 {
		t.Errorf("%d lookup backends of %s open; want 1", n, aqOtherLookup)
	}
}
