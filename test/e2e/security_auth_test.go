package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// scramSalt starts a login as user to database db on addr and returns the salt the
// server's SCRAM server-first message names, the part of the exchange anyone may
// ask for without a password.
func scramSalt(t *testing.T, addr, user, db string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	conn.Write(startupBytes(3<<16, "user", user, "database", db))
	fe := pgproto3.NewFrontend(conn, conn)
	msg, err := fe.Receive()
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	if _, ok := msg.(*pgproto3.AuthenticationSASL); !ok {
		t.Fatalf("%s: got %T, want AuthenticationSASL", user, msg)
	}
	conn.Write(mustEncode(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=securitytestclientnonce")}))
	msg, err = fe.Receive()
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	cont, ok := msg.(*pgproto3.AuthenticationSASLContinue)
	if !ok {
		t.Fatalf("%s: got %T (%+v), want AuthenticationSASLContinue", user, msg, msg)
	}
	for _, f := range strings.Split(string(cont.Data), ",") {
		if s, ok := strings.CutPrefix(f, "s="); ok {
			return s
		}
	}
	t.Fatalf("%s: no salt in %q", user, cont.Data)
	return ""
}

// TestSecuritySCRAMSaltTellsNoUserApart: the salt in SCRAM's server-first message,
// sent before any proof of a password, is each user's own, for users motorpool does
// not know too, as PostgreSQL makes it (scram_mock_salt): one salt shared by every
// unknown user would tell them from real ones. Two configured users with the same
// password do not share one either.
func TestSecuritySCRAMSaltTellsNoUserApart(t *testing.T) {
	t.Parallel()
	e := start(t, setup{TopYAML: "    app_twin: { password: \"" + appPassword + "\" }\n"})
	pgAddr := net.JoinHostPort(e.PG.Host, strconv.Itoa(e.PG.Port))
	for _, at := range []struct{ name, addr string }{{"PostgreSQL", pgAddr}, {"motorpool", e.Addr}} {
		t.Run(at.name, func(t *testing.T) {
			a1 := scramSalt(t, at.addr, "e2e_sec_nobody_1", e.DB)
			a2 := scramSalt(t, at.addr, "e2e_sec_nobody_1", e.DB)
			b := scramSalt(t, at.addr, "e2e_sec_nobody_2", e.DB)
			if a1 != a2 {
				t.Errorf("an unknown user's salt changes from one login to the next (%s, %s): a real user's does not", a1, a2)
			}
			if a1 == b {
				t.Errorf("two unknown users get the same salt %s: a user whose salt differs is known", a1)
			}
		})
	}
	if app, twin := scramSalt(t, e.Addr, appUser, e.DB), scramSalt(t, e.Addr, "app_twin", e.DB); app == twin {
		t.Errorf("two users with the same password get the same salt %s", app)
	}
}
