package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/testenv"
)

// TestSCRAMChannelBindingOverTLS: over TLS PostgreSQL offers SCRAM-SHA-256-PLUS, so
// clients with channel_binding=require (pgx, psql) log in; motorpool must offer it
// too, and check the binding, or those clients cannot connect at all. A wrong
// password still fails with 28P01, and plaintext clients keep plain SCRAM.
func TestSCRAMChannelBindingOverTLS(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "psql")
	cert, key := selfSignedCert(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, setup{Adapter: pg.Config{TLS: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}})
	root := "sslrootcert=" + url.QueryEscape(cert)

	conn := connect(t, dsnSSL(e.Addr, e.DB, "verify-full", root+"&channel_binding=require"))
	if n := queryInt(t, conn, "SELECT 8"); n != 8 {
		t.Fatal("query after SCRAM-SHA-256-PLUS")
	}

	wrong := strings.Replace(dsnSSL(e.Addr, e.DB, "verify-full", root+"&channel_binding=require"), url.QueryEscape(appPassword), "wrong", 1)
	if err := connectErr(t, wrong); !isCode(err, "28P01") {
		t.Errorf("wrong password with channel binding: %v, want 28P01", err)
	}
	if err := connectErr(t, dsnSSL(e.Addr, e.DB, "disable", "channel_binding=prefer")); err != nil {
		t.Errorf("plaintext SCRAM: %v", err)
	}

	h, port, _ := net.SplitHostPort(e.Addr)
	kv := fmt.Sprintf("host=%s port=%s dbname=%s user=%s sslmode=require channel_binding=require", h, port, e.DB, appUser)
	out, err := toolErr(t, "psql", []string{"PGPASSWORD=" + appPassword}, nil, kv, "-X", "-Atc", "SELECT 9")
	if err != nil || strings.TrimSpace(out) != "9" {
		t.Fatalf("psql with channel_binding=require: %v\n%s", err, out)
	}
}
