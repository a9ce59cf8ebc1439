package pg

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/xdg-go/scram"
)

// tlsClient is a client connection after its TLS handshake, with the channel binding
// of the certificate it was served: SCRAM-SHA-256-PLUS checks it, as PostgreSQL
// does, so that clients with channel_binding=require can log in.
type tlsClient struct {
	*tls.Conn
	binding scram.ChannelBinding // zero when it cannot be known
}

// endPointBinding returns the tls-server-end-point channel binding (RFC 5929) of the
// certificate conf serves, or the zero binding when conf is nil or may choose among
// several certificates (then SCRAM-SHA-256-PLUS is not offered).
func endPointBinding(conf *tls.Config) scram.ChannelBinding {
	if conf == nil || len(conf.Certificates) != 1 || conf.GetCertificate != nil || len(conf.Certificates[0].Certificate) == 0 {
		return scram.ChannelBinding{}
	}
	leaf, err := x509.ParseCertificate(conf.Certificates[0].Certificate[0])
	if err != nil {
		return scram.ChannelBinding{}
	}
	// The hash rule is the same on either side of the connection: hand the library
	// our certificate as the peer's.
	cb, err := scram.NewTLSServerEndpointBinding(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}})
	if err != nil {
		return scram.ChannelBinding{}
	}
	return cb
}

// channelBinding returns the binding of the client's TLS connection, zero when the
// client did not encrypt.
func (r *relay) channelBinding() scram.ChannelBinding {
	if tc, ok := r.conn.(*tlsClient); ok {
		return tc.binding
	}
	return scram.ChannelBinding{}
}
