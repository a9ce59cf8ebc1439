package config

import (
	"fmt"
	"strings"
)

// Effect says how a running proxy applies a change.
type Effect uint8

// The effects, from least to most disruptive.
const (
	// ApplyLive changes a setting in place, keeping the pool and its server
	// connections: new sizes and timeouts take effect for the next acquire,
	// dial or scaling decision (max_lifetime for server connections opened
	// afterwards), settings read at login for the next client.
	ApplyLive Effect = iota
	// ApplyNewPool builds a new pool, with new server connections, for the
	// clients that connect afterwards (the server address, credentials,
	// session settings or pool mode changed). Clients already connected stay
	// on the old pool until they disconnect; no client is dropped. The old
	// pool's server connections stay open until its last client leaves, so
	// the server may see both pools' connections meanwhile.
	ApplyNewPool
	// ApplyRestart needs a restart of the process (a listen address).
	ApplyRestart
)

// String returns "live", "new pool" or "restart".
func (e Effect) String() string {
	return [...]string{"live", "new pool", "restart"}[e]
}

// Change is one setting that differs between two configurations. Old and
// New are formatted as in `motorpool check`, with secrets redacted; Old is
// "" for a setting that is new, New for one that is gone.
type Change struct {
	Key    string
	Old    string
	New    string
	Effect Effect
}

// ObjectChanges lists the changed settings of one database or service.
type ObjectChanges struct {
	Name    string
	Changes []Change
}

// Changes is what a reload changes: databases and services added, removed
// or changed, and changed top-level settings. The zero Changes is no change.
type Changes struct {
	Global           []Change
	AddedDatabases   []string
	RemovedDatabases []string
	ChangedDatabases []ObjectChanges
	AddedServices    []string
	RemovedServices  []string
	ChangedServices  []ObjectChanges
}

// Diff describes what changes from old to new, in file order of new (then
// old for removals). Either may be nil, standing for an empty configuration.
func Diff(old, new *Config) Changes {
	var c Changes
	oldSecs, newSecs := sectionMap(old), sectionMap(new)
	c.Global = diffEntries(oldSecs[""], newSecs[""], globalEffect)
	for i, ch := range c.Global {
		if user, ok := strings.CutPrefix(ch.Key, "auth.users."); ok && strings.HasSuffix(user, ".password") {
			c.Global[i].Effect = userPasswordEffect(old, new, strings.TrimSuffix(user, ".password"))
		}
	}
	c.AddedDatabases, c.RemovedDatabases, c.ChangedDatabases = diffObjects("database ", old, new, oldSecs, newSecs)
	c.AddedServices, c.RemovedServices, c.ChangedServices = diffObjects("service ", old, new, oldSecs, newSecs)
	return c
}

// Empty reports whether nothing changes.
func (c Changes) Empty() bool {
	return len(c.Global)+len(c.AddedDatabases)+len(c.RemovedDatabases)+len(c.ChangedDatabases)+
		len(c.AddedServices)+len(c.RemovedServices)+len(c.ChangedServices) == 0
}

// Effect returns the most disruptive effect of any change: ApplyRestart
// when a listen address changed, ApplyNewPool when some pool is rebuilt,
// ApplyLive otherwise. Adding and removing databases and services is live.
func (c Changes) Effect() Effect {
	e := ApplyLive
	for _, ch := range c.Global {
		e = max(e, ch.Effect)
	}
	for _, objs := range [][]ObjectChanges{c.ChangedDatabases, c.ChangedServices} {
		for _, o := range objs {
			for _, ch := range o.Changes {
				e = max(e, ch.Effect)
			}
		}
	}
	return e
}

// String lists the changes one per line, like "database shop:
// connection_limit 20 -> 40 (live)".
func (c Changes) String() string {
	var b strings.Builder
	line := func(prefix string, ch Change) {
		fmt.Fprintf(&b, "%s%s %s -> %s (%s)\n", prefix, ch.Key, quoteEmpty(ch.Old), quoteEmpty(ch.New), ch.Effect)
	}
	for _, ch := range c.Global {
		line("", ch)
	}
	for _, kind := range []struct {
		name           string
		added, removed []string
		changed        []ObjectChanges
	}{
		{"database", c.AddedDatabases, c.RemovedDatabases, c.ChangedDatabases},
		{"service", c.AddedServices, c.RemovedServices, c.ChangedServices},
	} {
		for _, n := range kind.added {
			fmt.Fprintf(&b, "%s %s: added\n", kind.name, n)
		}
		for _, n := range kind.removed {
			fmt.Fprintf(&b, "%s %s: removed\n", kind.name, n)
		}
		for _, o := range kind.changed {
			for _, ch := range o.Changes {
				line(kind.name+" "+o.Name+": ", ch)
			}
		}
	}
	return b.String()
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func sectionMap(c *Config) map[string][]Entry {
	m := map[string][]Entry{}
	if c == nil {
		return m
	}
	for _, s := range c.sections() {
		m[s.Title] = s.Entries
	}
	return m
}

func objectNames(prefix string, c *Config) []string {
	if c == nil {
		return nil
	}
	var names []string
	if prefix == "database " {
		for _, d := range c.Databases {
			names = append(names, d.Name)
		}
	} else {
		for _, s := range c.Services {
			names = append(names, s.Name)
		}
	}
	return names
}

func diffObjects(prefix string, old, new *Config, oldSecs, newSecs map[string][]Entry) (added, removed []string, changed []ObjectChanges) {
	for _, n := range objectNames(prefix, new) {
		o, ok := oldSecs[prefix+n]
		if !ok {
			added = append(added, n)
			continue
		}
		if chs := diffEntries(o, newSecs[prefix+n], objectEffect); len(chs) > 0 {
			changed = append(changed, ObjectChanges{Name: n, Changes: chs})
		}
	}
	for _, n := range objectNames(prefix, old) {
		if _, ok := newSecs[prefix+n]; !ok {
			removed = append(removed, n)
		}
	}
	return added, removed, changed
}

// diffEntries compares two entry lists by key, in the order of new, then
// keys only in old.
func diffEntries(old, new []Entry, effect func(key string) Effect) []Change {
	oldByKey := map[string]Entry{}
	for _, e := range old {
		oldByKey[e.Key] = e
	}
	var out []Change
	seen := map[string]bool{}
	for _, e := range new {
		seen[e.Key] = true
		o, ok := oldByKey[e.Key]
		if ok && o.raw == e.raw {
			continue
		}
		out = append(out, Change{Key: e.Key, Old: o.Value, New: e.Value, Effect: effect(e.Key)})
	}
	for _, o := range old {
		if !seen[o.Key] {
			out = append(out, Change{Key: o.Key, Old: o.Value, Effect: effect(o.Key)})
		}
	}
	return out
}

// userPasswordEffect is how a change of user's auth.users password (or the
// user's addition or removal) applies: client logins check the new one at
// once, but a database whose URL names no user logs in to the server as each
// client's user, with that user's cleartext password, so such a database's
// pool for user is rebuilt.
func userPasswordEffect(old, new *Config, user string) Effect {
	if !perUserPools(new) || !cleartextPassword(old, user) && !cleartextPassword(new, user) {
		return ApplyLive
	}
	return ApplyNewPool
}

// perUserPools reports whether a database of c has a pool per user (its URL
// names no user).
func perUserPools(c *Config) bool {
	if c == nil {
		return false
	}
	for _, d := range c.Databases {
		if d.URL.User == "" {
			return true
		}
	}
	return false
}

// cleartextPassword reports whether c gives user of auth.users a cleartext
// password, the only kind sent on to the server (a hash cannot be).
func cleartextPassword(c *Config, user string) bool {
	if c == nil {
		return false
	}
	u := c.User(user)
	return u != nil && u.Password.PasswordKind() == PasswordCleartext
}

func globalEffect(key string) Effect {
	if key == "listen" || key == "admin.listen" {
		return ApplyRestart
	}
	return ApplyLive
}

func objectEffect(key string) Effect {
	if _, ok := specByName[Setting(key)]; ok {
		return Setting(key).Effect()
	}
	switch {
	case strings.HasPrefix(key, "url."), strings.HasPrefix(key, "session."),
		key == "provider", key == "dbname", key == "sslmode", key == "reset_query", key == "database",
		key == "server_cleartext_password":
		return ApplyNewPool
	}
	return ApplyLive
}

// Effect returns how a running proxy applies a change of pool setting s.
// Sizes and timeouts apply in place (ApplyLive), as do prepared_statements,
// read when a client logs in, priority, which budget sharing reads at its
// next pass, and connection_pattern, which only diagnostics read. pool_mode,
// and statement_timeout, which server connections get at login, need a new
// pool (ApplyNewPool), as does any setting not listed here.
func (s Setting) Effect() Effect {
	switch s {
	case SettingMinConnections, SettingConnectionLimit, SettingMaxConnecting,
		SettingPoolTimeout, SettingConnectTimeout, SettingIdleTimeout, SettingMaxLifetime,
		SettingValidationTimeout, SettingPreparedStatements, SettingPriority, SettingConnectionPattern:
		return ApplyLive
	}
	return ApplyNewPool
}
