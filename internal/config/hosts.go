package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// allowedHost checks one entry of admin.allowed_hosts: a host name, or
// "*." and a host name. An IP literal is kept with a warning, since every IP
// literal is allowed anyway.
func (d *decoder) allowedHost(item *yaml.Node, path, v string) bool {
	if _, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
		d.warnAt(d.pos(item), path, "IP literals are always allowed; %s need not be listed", v)
		return true
	}
	if msg := hostPatternProblem(v); msg != "" {
		d.errorf(item, path, "%s", msg)
		return false
	}
	return true
}

// hostPatternProblem says what is wrong with s as a host name, optionally
// preceded by "*.", or returns "" when nothing is.
func hostPatternProblem(s string) string {
	const want = "want a host name (admin.example.com) or *. and one (*.example.com)"
	switch {
	case s == "":
		return want + ", got an empty string"
	case strings.Contains(s, "/"):
		return want + ", not a URL, got " + quote(s)
	}
	if _, port, err := net.SplitHostPort(s); err == nil {
		return "want a host name without a port (any port is allowed), got " + quote(s) + "; remove :" + port
	}
	name := strings.TrimPrefix(s, "*.")
	if strings.Contains(name, "*") {
		return "* may only stand for the first labels, as in *.example.com, got " + quote(s)
	}
	if !validHostName(name) {
		return want + ", got " + quote(s)
	}
	return ""
}

// validHostName reports whether name is a DNS name: dot-separated labels of 1
// to 63 letters, digits, hyphens and underscores (container names have
// them), not starting or ending with a hyphen, 253 characters at most, with
// an optional final dot.
func validHostName(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func quote(s string) string { return strconv.Quote(truncate(s, 60)) }
