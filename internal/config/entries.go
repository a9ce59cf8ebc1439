package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Entry is one resolved setting as `motorpool check` prints it.
type Entry struct {
	// Key is the setting's dotted name within its section: "listen",
	// "url", "connection_limit", "session.lock_timeout".
	Key string
	// Value is the formatted value, with passwords and tokens redacted.
	Value string
	// Origin is where the value came from.
	Origin Origin

	raw    string // the unredacted value, compared by Diff
	hidden bool   // compared by Diff, not printed
}

// Section is a titled group of entries: the top-level settings (Title
// ""), one database ("database shop") or one service ("service gateway").
type Section struct {
	Title   string
	Entries []Entry
}

// Sections returns every resolved setting of c, grouped and in print order:
// top-level settings, then databases and services in file order.
func (c *Config) Sections() []Section {
	all := c.sections()
	for i := range all {
		all[i].Entries = slices.DeleteFunc(all[i].Entries, func(e Entry) bool { return e.hidden })
	}
	return all
}

func (c *Config) sections() []Section {
	out := []Section{{Entries: c.globalEntries()}}
	for _, db := range c.Databases {
		out = append(out, Section{Title: "database " + db.Name, Entries: db.entries()})
	}
	for _, s := range c.Services {
		out = append(out, Section{Title: "service " + s.Name, Entries: s.entries()})
	}
	return out
}

// entryList builds entries, taking origins from a map; an entry without
// one gets the fallback origin.
type entryList struct {
	entries  []Entry
	origins  map[string]Origin
	fallback Origin
}

func (l *entryList) add(key, value string) {
	o, ok := l.origins[key]
	if !ok {
		o = l.fallback
	}
	l.entries = append(l.entries, Entry{Key: key, Value: value, Origin: o, raw: value})
}

func (l *entryList) secret(key string, s Secret) {
	l.add(key, s.String())
	l.entries[len(l.entries)-1].raw = string(s)
}

func (l *entryList) hidden(key, value string) {
	l.add(key, value)
	l.entries[len(l.entries)-1].hidden = true
}

func (c *Config) globalEntries() []Entry {
	l := &entryList{origins: c.Origins, fallback: Origin{Kind: FromFile, Pos: Pos{File: c.File}}}
	l.add("listen", c.Listen)
	l.add("max_client_connections", strconv.Itoa(c.MaxClientConnections))
	l.add("profile", c.Profile)
	l.add("log.level", strings.ToLower(c.Log.Level.String()))
	l.add("log.format", c.Log.Format)
	l.add("tls.mode", string(c.TLS.Mode))
	if c.TLS.Cert != "" {
		l.add("tls.cert", c.TLS.Cert)
		l.add("tls.key", c.TLS.Key)
	}
	l.add("auth.type", string(c.Auth.Type))
	for _, u := range c.Auth.Users {
		l.secret("auth.users."+u.Name+".password", u.Password)
	}
	if q := c.Auth.Query; q != nil {
		l.add("auth.auth_query.user", q.User)
		l.secret("auth.auth_query.password", q.Password)
		l.add("auth.auth_query.query", q.Query)
	}
	l.add("admin.listen", c.Admin.Listen)
	l.add("admin.users", strings.Join(c.Admin.Users, ","))
	l.add("admin.stats_users", strings.Join(c.Admin.StatsUsers, ","))
	l.secret("admin.token", c.Admin.Token)
	l.add("admin.allowed_hosts", strings.Join(c.Admin.AllowedHosts, ","))
	for i, r := range c.Scaling.Rules {
		l.add(fmt.Sprintf("scaling.rules[%d]", i), r.String())
	}
	l.add("scaling.predictive.enabled", strconv.FormatBool(c.Scaling.Predictive.Enabled))
	return l.entries
}

// String formats a rule in its YAML flow form.
func (r ScalingRule) String() string {
	key, value := "threshold", strconv.FormatFloat(r.Threshold, 'f', -1, 64)
	if r.Below {
		key = "below"
	}
	if r.Trigger == TriggerLongWaitTimes {
		value = strconv.FormatFloat(r.Threshold, 'f', -1, 64) + "s"
	}
	size := fmt.Sprintf("step: %d", r.Step)
	if r.Action == ScaleToTarget {
		size = fmt.Sprintf("target: %d", r.Target)
	}
	return fmt.Sprintf("{ trigger: %s, %s: %s, action: %s, %s, cooldown: %s }",
		r.Trigger, key, value, r.Action, size, formatDuration(r.Cooldown))
}

func (db *Database) entries() []Entry {
	l := &entryList{origins: db.Origins}
	l.add("url", db.URL.Redacted())
	l.entries[0].raw = "" // compared through the hidden entries below
	l.hidden("url.hosts", fmt.Sprint(db.URL.Hosts))
	l.hidden("url.user", db.URL.User)
	l.secret("url.password", Secret(db.URL.Password))
	l.entries[len(l.entries)-1].hidden = true
	l.hidden("url.options", fmt.Sprint(db.URL.Options))
	l.add("provider", string(db.URL.Provider))
	l.add("dbname", db.URL.DBName)
	l.add("sslmode", string(db.URL.SSLMode))
	l.add("preset", db.Preset)
	l.add("budget", strconv.Itoa(db.Budget))
	poolEntries(l, db.Pool)
	sessionEntries(l, db.Session)
	l.add("reset_query", db.ResetQuery)
	l.add("server_cleartext_password", strconv.FormatBool(db.ServerCleartextPassword))
	return l.entries
}

func (s *Service) entries() []Entry {
	l := &entryList{origins: s.Origins}
	l.add("database", s.Database)
	if s.Match.User != "" {
		l.add("match.user", s.Match.User)
	}
	if s.Match.ApplicationName != "" {
		l.add("match.application_name", s.Match.ApplicationName)
	}
	l.add("type", s.Type)
	poolEntries(l, s.Pool)
	sessionEntries(l, s.Session)
	return l.entries
}

func poolEntries(l *entryList, p Pool) {
	for _, sp := range specs {
		l.add(string(sp.name), sp.format(&p))
	}
}

func sessionEntries(l *entryList, session map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(session)) {
		l.add("session."+k, session[k])
	}
}
