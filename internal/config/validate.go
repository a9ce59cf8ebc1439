package config

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
)

// validate runs the checks that need the whole, resolved configuration.
func (d *decoder) validate(s *source) {
	cfg := s.cfg
	d.validateListen(s)
	d.validateTLS(cfg)
	d.validateAuth(s)
	for _, src := range s.databases {
		db := src.db
		d.validatePool("databases."+db.Name, db.Pos, db.Pool, db.Origins)
		d.validateServerTLS(db, src.urlPos)
		d.validateServerLogin(s.cfg, db, src.urlPos)
	}
	for _, src := range s.services {
		d.validateService(s, src)
	}
	for _, src := range s.databases {
		d.validateBudget(s, src)
	}
	d.validatePoolNames(s)
}

// validatePoolNames refuses database names that a pool motorpool makes would also
// take: a service's pool is named DATABASE/SERVICE, and the pools of a database
// whose URL names no user are named DATABASE.USER (DATABASE/SERVICE.USER for its
// services), one per client user. Two pools of one name would share their metrics
// history, alerts and dashboard page.
func (d *decoder) validatePoolNames(s *source) {
	userless := map[string]bool{}
	for _, src := range s.databases {
		userless[src.db.Name] = src.db.URL.User == ""
	}
	type made struct {
		name    string // a pool's name, or the prefix of its per-user pools' names
		prefix  bool
		builder string // what makes it
	}
	var pools []made
	for _, src := range s.databases {
		if db := src.db; userless[db.Name] {
			pools = append(pools, made{db.Name + ".", true, "database " + db.Name + ", whose URL names no user"})
		}
	}
	for _, src := range s.services {
		svc := src.svc
		name := svc.Database + "/" + svc.Name
		pools = append(pools, made{name, false, "service " + svc.Name})
		if userless[svc.Database] {
			pools = append(pools, made{name + ".", true, "service " + svc.Name + ", whose database's URL names no user"})
		}
	}
	for _, src := range s.databases {
		db := src.db
		for _, p := range pools {
			if p.name == db.Name || p.prefix && strings.HasPrefix(db.Name, p.name) {
				pattern := p.name
				if p.prefix {
					pattern += "USER"
				}
				d.errorAt(db.Pos, "databases."+db.Name, "the name is taken by a pool of %s (named %s); rename one of them", p.builder, pattern)
			}
		}
	}
}

func (d *decoder) validateListen(s *source) {
	cfg := s.cfg
	check := func(addr, key string, pos Pos) bool {
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || n < 0 || n > 65535 {
			d.errorAt(pos, key, "want HOST:PORT with a port between 0 and 65535, got %q", truncate(addr, 60))
			return false
		}
		if key == "admin.listen" && cfg.Admin.Token == "" && !isLoopback(host) {
			d.warnAt(pos, key, "the admin API listens beyond this machine without a token; set admin.token")
		}
		return true
	}
	ok1 := check(cfg.Listen, "listen", s.listenPos)
	ok2 := check(cfg.Admin.Listen, "admin.listen", s.adminPos)
	if ok1 && ok2 && cfg.Listen == cfg.Admin.Listen && !strings.HasSuffix(cfg.Listen, ":0") {
		d.errorAt(s.adminPos, "admin.listen", "the admin API cannot listen on the proxy's address %s", cfg.Listen)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (d *decoder) validateTLS(cfg *Config) {
	t := cfg.TLS
	pos := cfg.Origins["tls.mode"].Pos
	switch {
	case (t.Cert == "") != (t.Key == ""):
		d.errorAt(pos, "tls", "give both cert and key, or neither")
	case t.Mode == TLSRequire && t.Cert == "":
		d.errorAt(pos, "tls", "mode require needs cert and key")
	case t.Mode == TLSAllow && t.Cert == "":
		d.warnAt(pos, "tls", "mode allow without cert and key: clients asking for TLS are refused it")
	case t.Mode == TLSDisable && t.Cert != "":
		d.warnAt(pos, "tls", "cert and key are ignored with mode disable")
	}
}

// validateServerTLS checks a database URL's TLS options: the files are read when
// the pool starts.
func (d *decoder) validateServerTLS(db *Database, pos Pos) {
	o := db.URL.Options
	key := "databases." + db.Name + ".url"
	switch {
	case (o["sslcert"] == "") != (o["sslkey"] == ""):
		d.errorAt(pos, key, "give both sslcert and sslkey, or neither")
	case db.URL.SSLMode == SSLDisable && (o["sslrootcert"] != "" || o["sslcert"] != ""):
		d.warnAt(pos, key, "sslrootcert, sslcert and sslkey are ignored with sslmode=disable")
	}
}

// validateServerLogin warns when a URL without a user makes motorpool log in to the
// server as each client with a password it does not have: only a cleartext password
// in auth.users can be sent on.
func (d *decoder) validateServerLogin(cfg *Config, db *Database, pos Pos) {
	if db.URL.User != "" || db.URL.Provider != ProviderPostgres {
		return
	}
	var hashed []string
	for _, u := range cfg.Auth.Users {
		if u.Password != "" && u.Password.PasswordKind() != PasswordCleartext {
			hashed = append(hashed, u.Name)
		}
	}
	if len(hashed) > 0 {
		d.warnAt(pos, "databases."+db.Name+".url", "no user in the URL: clients log in to the server as themselves, "+
			"with the cleartext password of auth.users, which %s do not have (a hash cannot be sent on): "+
			"the server must trust them, or put a user and password in the URL", strings.Join(hashed, ", "))
	}
}

// validatePool checks the relations between a pool's settings.
func (d *decoder) validatePool(path string, decl Pos, p Pool, origins map[string]Origin) {
	if p.MinConnections > p.ConnectionLimit {
		d.cross(path, decl, origins, SettingMinConnections, SettingConnectionLimit,
			"min_connections (%d, %s) must not exceed connection_limit (%d, %s)",
			p.MinConnections, origins[string(SettingMinConnections)], p.ConnectionLimit, origins[string(SettingConnectionLimit)])
	}
	if p.IdleTimeout > 0 && p.MaxLifetime > 0 && p.IdleTimeout >= p.MaxLifetime {
		d.cross(path, decl, origins, SettingIdleTimeout, SettingMaxLifetime,
			"idle_timeout (%s, %s) must be less than max_lifetime (%s, %s); set idle_timeout: 0 to never close idle connections",
			formatDuration(p.IdleTimeout), origins[string(SettingIdleTimeout)], formatDuration(p.MaxLifetime), origins[string(SettingMaxLifetime)])
	}
}

// cross records a problem between two settings of a pool. It is an error
// when a person wrote either value, and only a warning when both come from
// built-in tables (a profile combined with a service type, say): the user
// did not write anything wrong, but should know. The problem is placed at
// the value written last in the precedence order.
func (d *decoder) cross(path string, decl Pos, origins map[string]Origin, a, b Setting, format string, args ...any) {
	oa, ob := origins[string(a)], origins[string(b)]
	blame, name := ob, b
	if oa.Kind > ob.Kind {
		blame, name = oa, a
	}
	msg := fmt.Sprintf(format, args...)
	switch blame.Kind {
	case FromFile:
		d.errorAt(blame.Pos, join(path, string(name)), "%s", msg)
	case FromURL:
		d.errorAt(blame.Pos, join(path, "url"), "%s", msg)
	default:
		d.warnAt(decl, path, "%s", msg)
	}
}

func (d *decoder) validateService(s *source, src *svcSource) {
	svc := src.svc
	p := "services." + svc.Name
	m := svc.Match
	if m.User == "" && m.ApplicationName == "" {
		d.errorAt(src.matchPos, join(p, "match"), "match needs user or application_name (or both)")
	}
	for _, f := range [][2]string{{"user", m.User}, {"application_name", m.ApplicationName}} {
		if _, err := path.Match(f[1], ""); err != nil {
			d.errorAt(src.matchPos, p+".match."+f[0], "bad pattern %q: %v", truncate(f[1], 40), err)
		}
	}
	for _, other := range s.services {
		if other == src {
			break
		}
		if other.svc.Database == svc.Database && other.svc.Match == m && svc.Database != "" {
			d.errorAt(src.matchPos, join(p, "match"), "service %s already matches the same clients", other.svc.Name)
		}
	}
	if svc.Origins != nil {
		d.validatePool(p, svc.Pos, svc.Pool, svc.Origins)
	}
}

// validateBudget checks that the minimums of the pools sharing a database's
// budget fit in it.
func (d *decoder) validateBudget(s *source, src *dbSource) {
	db := src.db
	if db.Budget == 0 {
		return
	}
	path := "databases." + db.Name + ".budget"
	sum := db.Pool.MinConnections
	parts := []string{fmt.Sprintf("%s %d", db.Name, db.Pool.MinConnections)}
	names, pools := []string{db.Name}, []Pool{db.Pool}
	for _, ss := range s.services {
		if ss.svc.Database == db.Name && ss.svc.Origins != nil {
			sum += ss.svc.Pool.MinConnections
			parts = append(parts, fmt.Sprintf("%s %d", ss.svc.Name, ss.svc.Pool.MinConnections))
			names, pools = append(names, ss.svc.Name), append(pools, ss.svc.Pool)
		}
	}
	if sum > db.Budget {
		d.errorAt(src.budgetPos, path, "min_connections of the pools sharing the budget sum to %d (%s), above the budget of %d",
			sum, strings.Join(parts, ", "), db.Budget)
	}
	for i, p := range pools {
		if p.ConnectionLimit > db.Budget {
			d.warnAt(src.budgetPos, path, "connection_limit of %s (%d) is above the budget (%d); it will never get more than %d",
				names[i], p.ConnectionLimit, db.Budget, db.Budget)
		}
	}
}
