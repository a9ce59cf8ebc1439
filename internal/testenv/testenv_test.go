package testenv_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestPostgresAuthMethods(t *testing.T) {
	pg := testenv.Postgres(t)
	tests := []struct {
		name, user, password string
	}{
		{"trust", testenv.TrustUser, ""},
		{"trust ignores password", testenv.TrustUser, "anything"},
		{"md5", testenv.MD5User, testenv.MD5Password},
		{"scram", testenv.ScramUser, testenv.ScramPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := pg.Connect(t, tt.user, tt.password, "")
			var user string
			if err := conn.QueryRow(ctx(t), "SELECT current_user").Scan(&user); err != nil {
				t.Fatal(err)
			}
			if user != tt.user {
				t.Fatalf("current_user = %q, want %q", user, tt.user)
			}
		})
	}
}

// TestPostgresAuthMethodIsEnforced checks that each role really authenticates
// with its method, from the server's first answer to a startup message.
func TestPostgresAuthMethodIsEnforced(t *testing.T) {
	pg := testenv.Postgres(t)
	for user, want := range map[string]pgproto3.BackendMessage{
		testenv.TrustUser: &pgproto3.AuthenticationOk{},
		testenv.MD5User:   &pgproto3.AuthenticationMD5Password{},
		testenv.ScramUser: &pgproto3.AuthenticationSASL{},
	} {
		t.Run(user, func(t *testing.T) {
			nc, err := net.Dial("tcp", net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(time.Minute))
			fe := pgproto3.NewFrontend(nc, nc)
			fe.Send(&pgproto3.StartupMessage{
				ProtocolVersion: pgproto3.ProtocolVersionNumber,
				Parameters:      map[string]string{"user": user, "database": "postgres"},
			})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			msg, err := fe.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(msg) != reflect.TypeOf(want) {
				t.Fatalf("server asked %T, want %T", msg, want)
			}
		})
	}
}

func TestPostgresWrongPassword(t *testing.T) {
	pg := testenv.Postgres(t)
	for _, user := range []string{testenv.MD5User, testenv.ScramUser, "no_such_user"} {
		t.Run(user, func(t *testing.T) {
			conn, err := pgx.Connect(ctx(t), pg.DSN(user, "wrong", ""))
			if err == nil {
				conn.Close(context.Background())
				t.Fatal("connected with a wrong password")
			}
			if !isPgCode(err, "28P01") {
				t.Fatalf("error = %v, want SQLSTATE 28P01", err)
			}
		})
	}
}

func TestPostgresCreateRoleAndDatabase(t *testing.T) {
	pg := testenv.Postgres(t)
	db := pg.CreateDatabase(t, "testenv_create")
	for _, method := range []string{testenv.AuthTrust, testenv.AuthMD5, testenv.AuthScram} {
		t.Run(method, func(t *testing.T) {
			name := "created_" + map[string]string{"trust": "trust", "md5": "md5", "scram-sha-256": "scram"}[method]
			pg.CreateRole(t, name, "pw'with\"quotes", method)
			conn := pg.Connect(t, name, "pw'with\"quotes", db)
			if _, err := conn.Exec(ctx(t), "CREATE TABLE "+name+" (id int)"); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Changing a role's method takes effect without a reload.
	pg.CreateRole(t, "created_md5", "other", testenv.AuthScram)
	pg.Connect(t, "created_md5", "other", db)
	if err := pg.EnsureRole(ctx(t), "x", "", "password"); err == nil {
		t.Fatal("EnsureRole accepted the unsupported method \"password\"")
	}
}

func TestPostgresRestart(t *testing.T) {
	pg := testenv.NewPostgres(t, testenv.PGOptions{MaxConnections: 20})
	conn := pg.Connect(t, testenv.ScramUser, testenv.ScramPassword, "")
	port := pg.Port

	pg.Restart(t)
	if _, err := conn.Exec(ctx(t), "SELECT 1"); err == nil {
		t.Fatal("a connection survived the restart")
	}
	if pg.Port != port {
		t.Fatalf("port changed from %d to %d", port, pg.Port)
	}
	pg.Connect(t, testenv.ScramUser, testenv.ScramPassword, "")

	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if pg.Running() {
		t.Fatal("running after Kill")
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	var n string
	if err := pg.Connect(t, pg.SuperUser, "", "").QueryRow(ctx(t), "SHOW max_connections").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != "20" {
		t.Fatalf("max_connections = %s, want 20", n)
	}
}

func TestPostgresSettings(t *testing.T) {
	conn := testenv.Postgres(t).Connect(t, testenv.TrustUser, "", "")
	for name, want := range map[string]string{"fsync": "off", "max_connections": "300", "listen_addresses": "127.0.0.1"} {
		var got string
		if err := conn.QueryRow(ctx(t), "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func isPgCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
