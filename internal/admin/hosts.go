package admin

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// hostPolicy decides which Host headers the HTTP API answers, against DNS
// rebinding: a page of another site whose name its owner then points at
// 127.0.0.1 is same-origin with the admin API for the browser, and could read
// the dashboard and the API. The browser still sends that site's name in
// Host, which is what is refused.
type hostPolicy struct {
	check bool     // false: every Host is answered
	names []string // lower case, without a final dot; ".example.com" for *.example.com
}

// newHostPolicy checks Host when the API is served on loopback only, or when
// names are given: beyond loopback, the API is reached by names (a load
// balancer's, a DNS alias) that only the configuration can list.
func newHostPolicy(loopback bool, allowed []string) *hostPolicy {
	p := &hostPolicy{check: loopback || len(allowed) > 0}
	for _, n := range allowed {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		p.names = append(p.names, strings.TrimPrefix(n, "*"))
	}
	return p
}

// allows reports whether a request with Host hostport may be answered: an IP
// literal, localhost or an allowed name, with any port or none.
//
// A request without Host (HTTP/1.0; net/http answers 400 to HTTP/1.1 without
// one) is allowed: browsers always send Host, and only a browser can be
// misled by DNS rebinding, while health checks of load balancers still send
// HTTP/1.0 requests without Host.
func (p *hostPolicy) allows(hostport string) bool {
	if !p.check || hostport == "" {
		return true
	}
	host := hostName(hostport)
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" {
		return true
	}
	for _, n := range p.names {
		if host == n || strings.HasPrefix(n, ".") && strings.HasSuffix(host, n) {
			return true
		}
	}
	return false
}

// hostName is the host of a Host header: without its port, and without the
// brackets of an IPv6 literal.
func hostName(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// checkHost answers the requests whose Host a.hosts refuses with 421
// Misdirected Request and one line of text naming admin.allowed_hosts. 421
// rather than 403: nothing is wrong with the client's rights, the request was
// sent to a server that does not answer for that name (RFC 9110, 15.5.20), and
// 403 already means "admin.token needed" here.
func (a *Admin) checkHost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hosts.Load().allows(r.Host) {
			host := hostName(r.Host)
			if len(host) > 100 {
				host = host[:100] + "..."
			}
			http.Error(w, fmt.Sprintf("motorpool: the admin API does not answer to the host name %q; "+
				"to reach it by this name, add it to admin.allowed_hosts", host), http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}
