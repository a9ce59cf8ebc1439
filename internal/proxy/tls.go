package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/motorpool/motorpool/internal/config"
)

// serverTLS returns the TLS configuration of server connections that a URL's
// sslmode, sslrootcert, sslcert and sslkey describe, read as libpq reads them:
//
//   - disable: no TLS (nil).
//   - allow, prefer: TLS when the server offers it, plaintext otherwise.
//   - require: TLS or nothing.
//   - verify-ca: require, and the server's certificate must chain to a root.
//   - verify-full: verify-ca, and the certificate must name the host dialed.
//
// The roots are sslrootcert's certificates, or the system's when it is absent or
// "system". As in libpq, an sslrootcert given with allow, prefer or require is
// used too: the chain is then verified. sslcert and sslkey, given together, are
// the client certificate offered to servers that ask for one. ServerName is left
// empty: the dialer sets it to the host of each address it tries.
func serverTLS(u config.URL) (conf *tls.Config, required bool, err error) {
	mode := u.SSLMode
	switch mode {
	case config.SSLDisable, "":
		return nil, false, nil
	case config.SSLAllow, config.SSLPrefer, config.SSLRequire, config.SSLVerifyCA, config.SSLVerifyFull:
	default:
		return nil, false, fmt.Errorf("unsupported sslmode %q", mode)
	}
	conf = &tls.Config{MinVersion: tls.VersionTLS12}
	rootFile := u.Options["sslrootcert"]
	if rootFile != "" && rootFile != "system" {
		if conf.RootCAs, err = readRoots(rootFile); err != nil {
			return nil, false, err
		}
	}
	certFile, keyFile := u.Options["sslcert"], u.Options["sslkey"]
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, false, fmt.Errorf("sslcert and sslkey: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, false, errors.New("give both sslcert and sslkey, or neither")
	}
	switch {
	case mode == config.SSLVerifyFull:
	case mode == config.SSLVerifyCA || rootFile != "":
		// The chain is checked here, without the host name Go would check.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = verifyChain(conf.RootCAs)
	default:
		conf.InsecureSkipVerify = true // encryption only, as libpq does
	}
	return conf, mode != config.SSLAllow && mode != config.SSLPrefer, nil
}

// CheckServerTLS reports what would stop a pool for u from building its TLS
// settings when it starts: an sslrootcert, sslcert or sslkey file that cannot be
// read. It opens no connection.
func CheckServerTLS(u config.URL) error {
	_, _, err := serverTLS(u)
	return err
}

// readRoots reads the PEM certificates of file.
func readRoots(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("sslrootcert: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("sslrootcert: no PEM certificate in %s", file)
	}
	return roots, nil
}

// verifyChain checks that the server's certificate chains to roots (the system's
// when nil), whatever names it carries: sslmode verify-ca.
func verifyChain(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
}
