package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/testenv"
)

// TestTLSToTheServer runs motorpool in front of a PostgreSQL that serves TLS with a
// certificate from a private CA, issued for the name db.example only, and asks
// clients for a certificate of the same CA. Each sslmode behaves as libpq's: verify-ca
// checks the chain but not the name, verify-full checks both, require with
// sslrootcert checks the chain, prefer and require without it only encrypt; sslcert
// and sslkey are offered as the client certificate; a server without TLS is refused
// by require and accepted in plaintext by prefer; a Unix socket is used without TLS.
func TestTLSToTheServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	other := newTestCA(t, dir, "other-ca")
	serverCert, serverKey := ca.issue(t, "server", []string{"db.example"}, false)
	clientCert, clientKey := ca.issue(t, "client", nil, true)
	p := testenv.NewPostgres(t, testenv.PGOptions{TLSCert: serverCert, TLSKey: serverKey, TLSClientCA: ca.certFile})
	db := newDatabase(t, p)
	q := url.QueryEscape

	// inTLS connects through a motorpool whose database URL has params and reports
	// whether the server connection is encrypted and the client certificate's name.
	inTLS := func(t *testing.T, p *testenv.PG, params string) (ssl bool, clientDN string, err error) {
		t.Helper()
		e := start(t, setup{PG: p, Database: db, URLParams: params + "&pool_timeout=3&connect_timeout=3"})
		conn, err := connectOrErr(t, e.AppDSN(""))
		if err != nil {
			return false, "", err
		}
		defer conn.Close(testCtx(t))
		var dn *string
		err = conn.QueryRow(testCtx(t), "SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &dn)
		if dn != nil {
			clientDN = *dn
		}
		return ssl, clientDN, err
	}
	for _, tt := range []struct {
		name, params string
		ssl          bool   // the server connection is encrypted
		clientDN     string // the client certificate the server saw
		fails        string // the error the client gets instead, "" if none
	}{
		{name: "verify-ca with the CA", params: "sslmode=verify-ca&sslrootcert=" + q(ca.certFile), ssl: true},
		{name: "verify-ca with the CA and a client certificate",
			params: "sslmode=verify-ca&sslrootcert=" + q(ca.certFile) + "&sslcert=" + q(clientCert) + "&sslkey=" + q(clientKey),
			ssl:    true, clientDN: "/CN=client"},
		{name: "verify-ca with another CA", params: "sslmode=verify-ca&sslrootcert=" + q(other.certFile), fails: "certificate signed by unknown authority"},
		{name: "verify-full with a name the certificate lacks", params: "sslmode=verify-full&sslrootcert=" + q(ca.certFile), fails: "x509: cannot validate certificate for 127.0.0.1"},
		{name: "require encrypts without checking", params: "sslmode=require", ssl: true},
		{name: "require with sslrootcert checks the chain", params: "sslmode=require&sslrootcert=" + q(other.certFile), fails: "certificate signed by unknown authority"},
		{name: "prefer encrypts when the server offers it", params: "sslmode=prefer", ssl: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ssl, dn, err := inTLS(t, p, tt.params)
			if tt.fails != "" {
				if err == nil || !isCode(err, "08001") || !strings.Contains(err.Error(), tt.fails) {
					t.Fatalf("got %v, want 08001 saying %q", err, tt.fails)
				}
				return
			}
			if err != nil || ssl != tt.ssl || dn != tt.clientDN {
				t.Fatalf("ssl %v, client %q, err %v; want ssl %v, client %q", ssl, dn, err, tt.ssl, tt.clientDN)
			}
		})
	}

	t.Run("a server without TLS", func(t *testing.T) {
		t.Parallel()
		plain := testenv.Postgres(t)
		if _, _, err := inTLSPlain(t, plain, "sslmode=require"); err == nil || !strings.Contains(err.Error(), "server does not support TLS") {
			t.Fatalf("sslmode=require: %v, want a refusal", err)
		}
		if ssl, _, err := inTLSPlain(t, plain, "sslmode=prefer"); err != nil || ssl {
			t.Fatalf("sslmode=prefer: ssl %v, %v; want plaintext", ssl, err)
		}
	})
	t.Run("a Unix socket is used without TLS, as libpq does", func(t *testing.T) {
		t.Parallel()
		ssl, _, err := inTLS(t, p, "sslmode=require") // by TCP: encrypted
		if err != nil || !ssl {
			t.Fatalf("by TCP: ssl %v, %v", ssl, err)
		}
		e := start(t, setup{PG: p, Database: db, ServerAddr: p.SocketDir + ":" + strconv.Itoa(p.Port), ServerUser: testenv.TrustUser,
			URLParams: "sslmode=require&pool_timeout=3"})
		conn := connect(t, e.AppDSN(""))
		if got := queryString(t, conn, "SELECT coalesce(inet_server_addr()::text, 'unix')"); got != "unix" {
			t.Fatalf("server connection on %s, want the Unix socket", got)
		}
	})
}

// inTLSPlain is inTLS for a server without TLS, where there is no database of the
// test yet.
func inTLSPlain(t *testing.T, p *testenv.PG, params string) (ssl bool, clientDN string, err error) {
	t.Helper()
	e := start(t, setup{PG: p, URLParams: params + "&pool_timeout=3&connect_timeout=3"})
	conn, err := connectOrErr(t, e.AppDSN(""))
	if err != nil {
		return false, "", err
	}
	defer conn.Close(testCtx(t))
	err = conn.QueryRow(testCtx(t), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
	return ssl, "", err
}

// testCA is a certificate authority for a test.
type testCA struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certFile string
	dir      string
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, certFile: filepath.Join(dir, name+".crt"), dir: dir}
	writePEM(t, ca.certFile, "CERTIFICATE", der)
	return ca
}

// issue writes a certificate for name (the common name; dnsNames for a server)
// and its key, for a server or, with client, a client.
func (ca *testCA) issue(t *testing.T, name string, dnsNames []string, client bool) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: dnsNames,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, name+".crt"), filepath.Join(ca.dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
