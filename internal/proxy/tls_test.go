package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/motorpool/motorpool/internal/config"
)

// TestServerTLSFileErrors: files a URL names that cannot be used stop the pool from
// starting with a message that names the option. (The modes themselves are tested
// against PostgreSQL in test/e2e.)
func TestServerTLSFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		options map[string]string
		want    string
	}{
		{map[string]string{"sslrootcert": filepath.Join(dir, "missing.pem")}, "sslrootcert: open "},
		{map[string]string{"sslrootcert": notPEM}, "sslrootcert: no PEM certificate in " + notPEM},
		{map[string]string{"sslcert": notPEM, "sslkey": notPEM}, "sslcert and sslkey: "},
		{map[string]string{"sslkey": notPEM}, "give both sslcert and sslkey, or neither"},
	} {
		u := config.URL{SSLMode: config.SSLVerifyFull, Options: tt.options}
		_, _, err := serverTLS(u)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want %q", tt.options, err, tt.want)
		}
	}
	// sslrootcert=system is the system's roots, not a file.
	u := config.URL{SSLMode: config.SSLVerifyCA, Options: map[string]string{"sslrootcert": "system"}}
	if conf, required, err := serverTLS(u); err != nil || !required || conf.RootCAs != nil || conf.VerifyConnection == nil {
		t.Errorf("sslrootcert=system: %v", err)
	}
}
