package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/testenv"
)

// daemon is `motorpool serve` running as its own process.
type daemon struct {
	cmd  *exec.Cmd
	Addr string
	out  *syncBuffer
	done chan struct{}
	err  error // the process's exit, once done is closed
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`msg="motorpool listening" addr=(\S+)`)

// startDaemon runs the built binary on the configuration file and waits until it
// listens. t.Cleanup kills it if it is still running and logs its output on failure.
func startDaemon(t *testing.T, configFile string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(motorpoolBin, append([]string{"serve", "-c", configFile}, args...)...)
	d := &daemon{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.out, d.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("motorpool output:\n%s", d.out.String())
		}
	})
	eventually(t, time.Minute, "motorpool listening", func() error {
		select {
		case <-d.done:
			t.Fatalf("motorpool exited: %v\n%s", d.err, d.out.String())
		default:
		}
		m := listeningRE.FindStringSubmatch(d.out.String())
		if m == nil {
			return fmt.Errorf("no listening line yet")
		}
		d.Addr = m[1]
		return nil
	})
	return d
}

// signal sends sig to the daemon.
func (d *daemon) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the daemon to exit, at most limit (which only bounds a broken run),
// and returns its exit error.
func (d *daemon) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case <-d.done:
		return d.err
	case <-time.After(limit):
		t.Fatalf("motorpool still running %v after it was told to stop", limit)
		return nil
	}
}

// pid returns the daemon's process ID.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// writeConfig writes a configuration file for s (with listen on a free port) in dir
// and returns its path.
func writeConfig(t *testing.T, path string, s setup, p *testenv.PG, db string) {
	t.Helper()
	text := s.yamlFor(p, db, "127.0.0.1:0")
	// Write a new file and rename it over the old, as editors do.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and localhost and its key in dir.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "motorpool e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// outputHas reports whether the daemon's output contains s.
func (d *daemon) outputHas(s string) bool { return strings.Contains(d.out.String(), s) }
