package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Provider is the kind of database a URL points at.
type Provider string

// The providers motorpool knows.
const (
	ProviderPostgres Provider = "postgres"
	ProviderMySQL    Provider = "mysql"
	ProviderMongoDB  Provider = "mongodb"
)

// DefaultPort is the port a host without one uses: 5432, 3306 or 27017.
func (p Provider) DefaultPort() int {
	switch p {
	case ProviderMySQL:
		return 3306
	case ProviderMongoDB:
		return 27017
	}
	return 5432
}

// schemes maps each accepted URL scheme to its provider.
var schemes = map[string]Provider{
	"postgresql":  ProviderPostgres,
	"postgres":    ProviderPostgres,
	"mysql":       ProviderMySQL,
	"mariadb":     ProviderMySQL,
	"mongodb":     ProviderMongoDB,
	"mongodb+srv": ProviderMongoDB,
}

// SSLMode is how motorpool uses TLS towards a server, with libpq's names.
type SSLMode string

// The SSL modes. The zero SSLMode in a parsed URL means "not given"; Load
// resolves it to prefer for PostgreSQL and MySQL and disable for MongoDB.
const (
	SSLDisable    SSLMode = "disable"
	SSLAllow      SSLMode = "allow"
	SSLPrefer     SSLMode = "prefer"
	SSLRequire    SSLMode = "require"
	SSLVerifyCA   SSLMode = "verify-ca"
	SSLVerifyFull SSLMode = "verify-full"
)

// HostPort is one server address of a URL. Host is a name, an IP address
// (IPv6 without brackets) or, for PostgreSQL, a Unix socket directory
// starting with "/".
type HostPort struct {
	Host string
	Port int
}

// String joins host and port, bracketing IPv6 addresses. A port of 0 (a
// mongodb+srv host) is left out.
func (h HostPort) String() string {
	host := h.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if h.Port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(h.Port)
}

// Param is one query parameter of a URL as given, with its canonical name.
type Param struct {
	Name  string
	Value string
}

// URL is a parsed database connection URL:
//
//	postgresql://USER:PASSWORD@HOST[:PORT][,HOST[:PORT]...]/DBNAME?PARAMS
//
// with schemes postgresql, postgres, mysql, mariadb, mongodb and
// mongodb+srv. User, password and database name are percent-decoded.
// Query parameters are pool settings (connection_limit, pool_timeout, ...),
// connection options (sslmode, sslrootcert, replicaSet, ...) or provider
// session settings (application_name, lock_timeout, charset, w, ...); see
// the package documentation for the full list per provider.
//
// String and Redacted never show the password.
type URL struct {
	Provider Provider
	Scheme   string     // as written, lower case
	Hosts    []HostPort // at least one; ports defaulted
	User     string     // "" when not given
	Password string     // "" when not given
	DBName   string     // "" when not given: Load defaults it to the database's name
	SSLMode  SSLMode    // "" when not given: Load resolves it
	Params   []Param    // every query parameter, in order

	// Pool holds the pool settings given as parameters.
	Pool Overrides
	// Session holds the provider session settings given as parameters,
	// by canonical name.
	Session map[string]string
	// Options holds the connection options given as parameters other than
	// sslmode (sslrootcert, replicaSet, authSource, ...), by canonical name.
	Options map[string]string
}

// maxURLLength bounds the input of ParseURL.
const maxURLLength = 8192

// ParseURL parses a database connection URL. Errors say what is wrong
// without repeating the URL, so they never leak a password; an unknown query
// parameter is named, with the closest known one as a suggestion.
func ParseURL(s string) (URL, error) {
	var u URL
	if len(s) > maxURLLength {
		return u, fmt.Errorf("URL is longer than %d bytes", maxURLLength)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return u, errors.New("not a URL: want SCHEME://HOST/DATABASE, with scheme postgresql, mysql or mongodb")
	}
	u.Scheme = strings.ToLower(scheme)
	if u.Provider, ok = schemes[u.Scheme]; !ok {
		return u, fmt.Errorf("unknown scheme %q: want postgresql, postgres, mysql, mariadb, mongodb or mongodb+srv%s",
			truncate(scheme, 20), didYouMean(scheme, []string{"postgresql", "postgres", "mysql", "mariadb", "mongodb", "mongodb+srv"}))
	}
	if strings.ContainsRune(rest, '#') {
		return u, errors.New("URL has a fragment (#...); percent-encode a # in a password as %23")
	}
	err := u.parse(rest)
	if err != nil && userinfoCut(rest) {
		// What the parser took for a port, a host or a parameter is part of a
		// password: quoting it would show the password.
		return u, errors.New("the user name or password contains / or ? unencoded; percent-encode them as %2F and %3F")
	}
	return u, err
}

func (u *URL) parse(rest string) error {
	rest, query, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	if err := u.parseAuthority(authority); err != nil {
		return err
	}
	if err := u.parsePath(path); err != nil {
		return err
	}
	return u.parseQuery(query)
}

// userinfoCut reports whether the URL after its scheme (rest) has its only @
// after the authority ends, as when a password holds a / or ? unencoded.
func userinfoCut(rest string) bool {
	end := strings.IndexAny(rest, "/?")
	return end >= 0 && !strings.Contains(rest[:end], "@") && strings.Contains(rest[end:], "@")
}

func (u *URL) parseAuthority(authority string) error {
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		if err := u.parseUserinfo(authority[:i]); err != nil {
			return err
		}
		authority = authority[i+1:]
	}
	if authority == "" {
		return errors.New("URL has no host")
	}
	for _, hp := range strings.Split(authority, ",") {
		h, err := u.parseHost(hp)
		if err != nil {
			return err
		}
		u.Hosts = append(u.Hosts, h)
	}
	if u.Scheme == "mongodb+srv" && (len(u.Hosts) != 1 || u.Hosts[0].Port != 0) {
		return errors.New("a mongodb+srv URL takes exactly one host name and no port")
	}
	return nil
}

func (u *URL) parseUserinfo(info string) error {
	user, password, hasPassword := strings.Cut(info, ":")
	var err error
	if u.User, err = url.PathUnescape(user); err != nil {
		return errors.New("user name has an invalid percent-escape")
	}
	if !hasPassword {
		return nil
	}
	if u.Password, err = url.PathUnescape(password); err != nil {
		return errors.New("password has an invalid percent-escape; percent-encode % as %25")
	}
	return nil
}

func (u *URL) parseHost(s string) (HostPort, error) {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return HostPort{}, errors.New("host has an unclosed [ (IPv6 address)")
		}
		host, port = s[1:end], s[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return HostPort{}, fmt.Errorf("unexpected %q after IPv6 address", truncate(port, 20))
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if strings.Contains(host, ":") {
			return HostPort{}, errors.New("an IPv6 address in a URL must be in brackets, like [::1]:5432")
		}
	}
	host, err := url.PathUnescape(host)
	if err != nil {
		return HostPort{}, errors.New("host has an invalid percent-escape")
	}
	if err := checkHost(host, u.Provider); err != nil {
		return HostPort{}, err
	}
	hp := HostPort{Host: host, Port: u.Provider.DefaultPort()}
	if u.Scheme == "mongodb+srv" {
		hp.Port = 0
	}
	if port == "" {
		return hp, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '+' {
		return HostPort{}, fmt.Errorf("port must be a number between 1 and 65535, got %q", truncate(port, 20))
	}
	hp.Port = n
	return hp, nil
}

func checkHost(host string, p Provider) error {
	if host == "" {
		return errors.New("URL has an empty host")
	}
	if strings.HasPrefix(host, "/") && p == ProviderPostgres {
		return nil // a Unix socket directory
	}
	for _, r := range host {
		ok := r == '-' || r == '.' || r == '_' || r == ':' || r == '%' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r > 127
		if !ok {
			return fmt.Errorf("host %q has a character %q that is not allowed; percent-encode special characters in the user name and password", truncate(host, 40), r)
		}
	}
	return nil
}

func (u *URL) parsePath(path string) error {
	if strings.Contains(path, "/") {
		return errors.New("database name contains a /; percent-encode it as %2F")
	}
	db, err := url.PathUnescape(path)
	if err != nil {
		return errors.New("database name has an invalid percent-escape")
	}
	u.DBName = db
	return nil
}

func (u *URL) parseQuery(query string) error {
	seen := map[string]string{} // what a parameter sets -> the parameter that set it
	for piece := range strings.SplitSeq(query, "&") {
		if piece == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(piece, "=")
		key, err1 := url.QueryUnescape(rawKey)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("parameter %q has an invalid percent-escape", truncate(rawKey, 40))
		}
		p, ok := lookupParam(u.Provider, key)
		if !ok {
			return unknownParam(u.Provider, key)
		}
		if prev, dup := seen[p.target()]; dup {
			if prev == p.name {
				return fmt.Errorf("parameter %s is given twice", p.name)
			}
			return fmt.Errorf("parameters %s and %s both set %s; give one", prev, p.name, p.target())
		}
		seen[p.target()] = p.name
		if err := u.setParam(p, value); err != nil {
			return err
		}
		u.Params = append(u.Params, Param{Name: p.name, Value: value})
	}
	return nil
}

func (u *URL) setParam(p *param, value string) error {
	switch p.kind {
	case paramPool:
		sp := specByName[p.setting]
		unit := sp.urlUnit
		if p.unit != 0 {
			unit = p.unit
		}
		return sp.parse(&u.Pool, p.name, value, unit)
	case paramSSLMode:
		mode, err := p.sslMode(value)
		u.SSLMode = mode
		return err
	}
	v, err := p.check(p.name, value)
	if err != nil {
		return err
	}
	m := &u.Session
	if p.kind == paramOption {
		m = &u.Options
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[p.key] = v
	return nil
}

// Redacted returns the URL with the password replaced by "xxxxx".
func (u URL) Redacted() string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	if u.User != "" || u.Password != "" {
		b.WriteString(escapeUserinfo(u.User))
		if u.Password != "" {
			b.WriteString(":xxxxx")
		}
		b.WriteByte('@')
	}
	for i, h := range u.Hosts {
		if i > 0 {
			b.WriteByte(',')
		}
		if strings.HasPrefix(h.Host, "/") {
			h.Host = url.PathEscape(h.Host)
		} else {
			h.Host = strings.ReplaceAll(h.Host, "%", "%25") // an IPv6 zone: [fe80::1%25eth0]
		}
		b.WriteString(h.String())
	}
	if u.DBName != "" || len(u.Params) > 0 {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(u.DBName))
	}
	for i, p := range u.Params {
		b.WriteByte("?&"[min(i, 1)])
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.String()
}

// String is Redacted, so that printing a URL never shows its password.
func (u URL) String() string { return u.Redacted() }

// escapeUserinfo percent-encodes the characters that would end a user name.
func escapeUserinfo(s string) string {
	return strings.NewReplacer("%", "%25", ":", "%3A", "@", "%40", "/", "%2F", "?", "%3F", "#", "%23", ",", "%2C").Replace(s)
}
