package e2e

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/motorpool/motorpool/internal/testenv"
)

// TestSecurityFailedLookupTellsTheClientNothingMore: when auth_query cannot look a
// user up (the auth user's own login fails, the query fails, the user name is not
// valid UTF-8), the client, who has proved nothing yet, gets FATAL 28000
// "authentication lookup failed", not the error PostgreSQL gave motorpool's lookup:
// that one names the auth user, the query's functions or the server's source files,
// and is not FATAL.
func TestSecurityFailedLookupTellsTheClientNothingMore(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	for _, r := range []struct{ name, pw string }{{aqLookupUser, aqLookupPassword}, {aqClientUser, aqClientPassword}} {
		p.CreateRole(t, r.name, r.pw, testenv.AuthScram)
	}
	tests := []struct {
		name, auth, user string
	}{
		{"the auth user's password is wrong", fmt.Sprintf("{ user: %s, password: wrong-%s }", aqLookupUser, aqLookupPassword), aqClientUser},
		{"the query fails", fmt.Sprintf("{ user: %s, password: %s, query: \"SELECT * FROM e2e_sec_no_lookup($1)\" }", aqLookupUser, aqLookupPassword), aqClientUser},
		{"the user name is not UTF-8", fmt.Sprintf("{ user: %s, password: %s, query: \"SELECT $1::text, NULL::text\" }", aqLookupUser, aqLookupPassword), "e2e_sec_\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, setup{PG: p, TopYAML: "  auth_query: " + tt.auth + "\n"})
			var got error
			if strings.ToValidUTF8(tt.user, "") == tt.user {
				_, got = connectOrErr(t, e.DSN(tt.user, aqClientPassword, ""))
				var pgErr *pgconn.PgError
				if errors.As(got, &pgErr) {
					got = &wireError{Severity: pgErr.Severity, Code: pgErr.Code, Message: pgErr.Message}
				}
			} else {
				conn, err := net.DialTimeout("tcp", e.Addr, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.Write(startupBytes(3<<16, "user", tt.user, "database", e.DB))
				if we := answerTo(t, conn); we != nil {
					got = we
				}
			}
			want := &wireError{Severity: "FATAL", Code: "28000", Message: "authentication lookup failed"}
			if we, ok := got.(*wireError); !ok || *we != *want {
				t.Errorf("%s logging in: %v; want %v", tt.user, got, want)
			}
		})
	}
}

// TestSecurityDefaultAuthQueryRefusesWhatPostgreSQLRefuses: with the default
// auth_query, a role whose password has expired (VALID UNTIL in the past) is refused
// with 28P01, as PostgreSQL refuses it, and so are a role that may not log in and a
// role without a password; a role whose password is still valid logs in.
func TestSecurityDefaultAuthQueryRefusesWhatPostgreSQLRefuses(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	roles := []struct {
		name, password, validUntil string
		login, refused             bool
	}{
		{"e2e_sec_aq_valid", "valid-secret", "infinity", true, false},
		{"e2e_sec_aq_valid_later", "later-secret", "2999-01-01", true, false},
		{"e2e_sec_aq_expired", "expired-secret", "2000-01-01", true, true},
		{"e2e_sec_aq_nologin", "nologin-secret", "infinity", false, true},
		{"e2e_sec_aq_nopassword", "", "infinity", true, true},
	}
	for _, r := range roles {
		p.CreateRole(t, r.name, r.password, testenv.AuthScram)
	}
	e := start(t, setup{PG: p, TopYAML: "  auth_query: { user: postgres }\n"}) // the default query
	direct := e.Direct(t)
	for _, r := range roles {
		login := "LOGIN"
		if !r.login {
			login = "NOLOGIN"
		}
		mustExec(t, direct, fmt.Sprintf("ALTER ROLE %s %s VALID UNTIL '%s'", r.name, login, r.validUntil))
	}
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			password := r.password
			if password == "" {
				password = "any"
			}
			_, viaPG := connectOrErr(t, dsn(net.JoinHostPort(p.Host, fmt.Sprint(p.Port)), r.name, password, e.DB, ""))
			conn, err := connectOrErr(t, e.DSN(r.name, password, ""))
			if err == nil {
				conn.Close(ctxFor(t, time.Minute))
			}
			if (viaPG != nil) != r.refused {
				t.Fatalf("PostgreSQL itself: %v; the test's roles are not what it expects", viaPG)
			}
			var pgErr *pgconn.PgError
			switch {
			case !r.refused && err != nil:
				t.Errorf("%s through motorpool: %v; PostgreSQL lets it in", r.name, err)
			case r.refused && (!errors.As(err, &pgErr) || pgErr.Code != "28P01"):
				t.Errorf("%s through motorpool: %v; want 28P01 (PostgreSQL: %v)", r.name, err, viaPG)
			}
		})
	}
}
