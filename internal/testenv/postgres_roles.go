package testenv

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The login roles every instance has, one per authentication method, for tests
// of client authentication over TCP.
const (
	TrustUser     = "trust_user" // trust: any password, or none, is accepted
	MD5User       = "md5_user"   // md5, with MD5Password stored as an md5 hash
	MD5Password   = "md5-secret"
	ScramUser     = "scram_user" // scram-sha-256, with ScramPassword
	ScramPassword = "scram-secret"
)

// Authentication methods for CreateRole, as pg_hba.conf spells them.
const (
	AuthTrust = "trust"
	AuthMD5   = "md5"
	AuthScram = "scram-sha-256"
)

// authGroups maps each method to the group role that pg_hba.conf gives it: a
// role's method is chosen by membership, so new roles need no reload.
var authGroups = map[string]string{
	AuthTrust: "testenv_trust",
	AuthMD5:   "testenv_md5",
	AuthScram: "testenv_scram",
}

// pgHBA trusts the superuser and every unix socket connection (setup only; tests
// of authentication use TCP), and picks the TCP method by group membership.
// Anyone else must use scram-sha-256.
const pgHBA = `# motorpool testenv
local all all                        trust
host  all postgres       127.0.0.1/32 trust
host  all +testenv_trust 127.0.0.1/32 trust
host  all +testenv_md5   127.0.0.1/32 md5
host  all +testenv_scram 127.0.0.1/32 scram-sha-256
host  all all            127.0.0.1/32 scram-sha-256
`

// bootstrap creates the group roles and the default login roles, and lets
// every role create objects in the postgres database.
func (pg *PG) bootstrap(ctx context.Context) error {
	var sql strings.Builder
	for _, g := range authGroups {
		fmt.Fprintf(&sql, "CREATE ROLE %s NOLOGIN;\n", g)
	}
	sql.WriteString("GRANT ALL ON SCHEMA public TO PUBLIC;\n")
	if err := pg.Exec(ctx, "postgres", sql.String()); err != nil {
		return fmt.Errorf("bootstrap roles: %w", err)
	}
	for _, r := range []struct{ name, password, method string }{
		{TrustUser, "", AuthTrust}, {MD5User, MD5Password, AuthMD5}, {ScramUser, ScramPassword, AuthScram},
	} {
		if err := pg.EnsureRole(ctx, r.name, r.password, r.method); err != nil {
			return err
		}
	}
	return nil
}

// DSN returns a URL connection string for user on database db over TCP, with
// TLS disabled. An empty password is left out; an empty db means "postgres".
func (pg *PG) DSN(user, password, db string) string {
	if db == "" {
		db = "postgres"
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     pg.Host + ":" + strconv.Itoa(pg.Port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	if password == "" {
		u.User = url.User(user)
	}
	return u.String()
}

// Exec runs sql (one or more statements; with args, exactly one) as the
// superuser in database db.
func (pg *PG) Exec(ctx context.Context, db, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, pg.DSN(pg.SuperUser, "", db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// EnsureRole makes name a login role that authenticates over TCP with method
// (AuthTrust, AuthMD5 or AuthScram) and password, creating it or updating an
// existing one. An md5 role's password is stored as an md5 hash, since
// PostgreSQL answers an md5 pg_hba entry with SCRAM when the stored password is
// a SCRAM secret. An empty password leaves the role without one.
func (pg *PG) EnsureRole(ctx context.Context, name, password, method string) error {
	group, ok := authGroups[method]
	if !ok {
		return fmt.Errorf("role %q: unsupported auth method %q (want trust, md5 or scram-sha-256)", name, method)
	}
	encryption := "scram-sha-256"
	if method == AuthMD5 {
		encryption = "md5"
	}
	role := pgx.Identifier{name}.Sanitize()
	pw := "NULL"
	if password != "" {
		pw = quoteLiteral(password)
	}
	sql := fmt.Sprintf(`BEGIN;
SET LOCAL password_encryption = '%s';
SET LOCAL client_min_messages = error;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN CREATE ROLE %s; END IF;
END $$;
ALTER ROLE %s LOGIN PASSWORD %s;
REVOKE testenv_trust, testenv_md5, testenv_scram FROM %s;
GRANT %s TO %s;
COMMIT;`, encryption, quoteLiteral(name), role, role, pw, role, group, role)
	pg.setupMu.Lock()
	defer pg.setupMu.Unlock()
	if err := pg.Exec(ctx, "postgres", sql); err != nil {
		return fmt.Errorf("role %q: %w", name, err)
	}
	return nil
}

// EnsureDatabase creates database name afresh (dropping one left over, and
// disconnecting its sessions), owned by owner (the superuser if empty), where
// every role may connect and create objects.
func (pg *PG) EnsureDatabase(ctx context.Context, name, owner string) error {
	if owner == "" {
		owner = pg.SuperUser
	}
	db := pgx.Identifier{name}.Sanitize()
	pg.setupMu.Lock()
	defer pg.setupMu.Unlock()
	if err := pg.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("database %q: %w", name, err)
	}
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+db+" OWNER "+pgx.Identifier{owner}.Sanitize()); err != nil {
		return fmt.Errorf("database %q: %w", name, err)
	}
	if err := pg.Exec(ctx, name, "GRANT ALL ON SCHEMA public TO PUBLIC"); err != nil {
		return fmt.Errorf("database %q: %w", name, err)
	}
	return nil
}

// DropDatabase drops database name if it exists, disconnecting its sessions.
func (pg *PG) DropDatabase(ctx context.Context, name string) error {
	pg.setupMu.Lock()
	defer pg.setupMu.Unlock()
	return pg.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// CreateRole is EnsureRole for tests: it fails the test on error. Roles are
// cluster-wide and outlive the test (on a shared instance, pick unique names).
func (pg *PG) CreateRole(t testing.TB, name, password, method string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pg.EnsureRole(ctx, name, password, method); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// CreateDatabase is EnsureDatabase for tests, owned by the superuser; the
// database is dropped by t.Cleanup. It returns name.
func (pg *PG) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pg.EnsureDatabase(ctx, name, ""); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if pg.Running() {
			if err := pg.DropDatabase(ctx, name); err != nil {
				t.Errorf("testenv: drop database %q: %v", name, err)
			}
		}
	})
	return name
}

// Connect opens a pgx connection as user to database db over TCP, failing the
// test on error; t.Cleanup closes it.
func (pg *PG) Connect(t testing.TB, user, password, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSN(user, password, db))
	if err != nil {
		t.Fatalf("testenv: connect as %s: %v", user, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings
// is on, so only quotes need doubling).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
