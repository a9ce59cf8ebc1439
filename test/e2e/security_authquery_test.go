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
