package config

import (
	"maps"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A pool's settings are resolved in layers, weakest first:
//
//	built-in defaults < profile < preset < URL parameters < YAML fields
//
// for a database's own pool, and for a service's pool
//
//	... < the database's YAML fields < service type < the service's YAML fields
//
// A service type describes one kind of client, so it is more specific than the
// database's URL, which sizes the database's own pool (the clients no service
// matches): a URL's connection_limit=40 must not make every service 40 wide.
type layer struct {
	over *Overrides
	from Origin
	pos  map[string]Pos // per-setting positions of a FromFile layer
}

func resolvePool(layers []layer) (Pool, map[string]Origin) {
	pool := Defaults()
	origins := map[string]Origin{}
	for _, sp := range specs {
		origins[string(sp.name)] = Origin{}
	}
	for _, l := range layers {
		l.over.applyTo(&pool, origins, l.from)
		for name, p := range l.pos {
			origins[name] = fileOrigin(p)
		}
	}
	return pool, origins
}

func (d *decoder) resolveConfig(s *source) {
	for _, src := range s.databases {
		d.resolveDatabase(s.cfg, src)
		s.cfg.Databases = append(s.cfg.Databases, src.db)
	}
	for _, src := range s.services {
		d.resolveService(s, src)
		s.cfg.Services = append(s.cfg.Services, src.svc)
	}
}

// databaseLayers returns the layers of a database's pool, with the service
// type layer inserted when st is not nil.
func (s *dbSource) layers(profile string, st *ServiceType) []layer {
	var ls []layer
	if p, ok := LookupProfile(profile); ok {
		ls = append(ls, layer{over: &p.Pool, from: Origin{Kind: FromProfile, Name: p.Name}})
	}
	if p, ok := LookupPreset(s.db.Preset); ok {
		ls = append(ls, layer{over: &p.Pool, from: Origin{Kind: FromPreset, Name: p.Name}})
	}
	ls = append(ls, layer{over: &s.db.URL.Pool, from: Origin{Kind: FromURL, Pos: s.urlPos}})
	ls = append(ls, layer{over: &s.written.fields, from: Origin{Kind: FromFile}, pos: s.written.fieldPos})
	if st != nil {
		ls = append(ls, layer{over: &st.Pool, from: Origin{Kind: FromServiceType, Name: st.Name}})
	}
	return ls
}

func (d *decoder) resolveDatabase(cfg *Config, src *dbSource) {
	db := src.db
	path := "databases." + db.Name
	if db.Preset != "" {
		p, ok := LookupPreset(db.Preset)
		switch {
		case !ok:
			d.errorAt(src.presetPos, path+".preset", "unknown preset %q: want one of %s%s", truncate(db.Preset, 40), listOf(presetNames()), didYouMean(db.Preset, presetNames()))
		case p.Provider != db.URL.Provider:
			d.errorAt(src.presetPos, path+".preset", "preset %s is for %s, but the url is %s; use one of %s",
				p.Name, p.Provider, db.URL.Provider, listOf(presetsFor(db.URL.Provider)))
		}
	}
	db.Pool, db.Origins = resolvePool(src.layers(cfg.Profile, nil))
	urlOrigin := Origin{Kind: FromURL, Pos: src.urlPos}
	db.Origins["url"] = fileOrigin(src.urlPos)
	db.Origins["provider"] = urlOrigin
	db.Origins["dbname"] = urlOrigin
	if db.URL.DBName == "" {
		db.URL.DBName = db.Name
		db.Origins["dbname"] = Origin{}
	}
	writtenAt(db.Origins, "preset", src.presetPos)
	writtenAt(db.Origins, "budget", src.budgetPos)
	writtenAt(db.Origins, "server_cleartext_password", src.cleartextPos)
	db.Origins["sslmode"] = Origin{Kind: FromURL, Pos: src.urlPos}
	if db.URL.SSLMode == "" {
		db.URL.SSLMode = SSLPrefer
		if db.URL.Provider == ProviderMongoDB {
			db.URL.SSLMode = SSLDisable
		}
		db.Origins["sslmode"] = Origin{}
	}
	db.Origins["reset_query"] = fileOrigin(src.resetPos)
	if !src.resetSet {
		db.ResetQuery = ""
		if db.URL.Provider == ProviderPostgres {
			db.ResetQuery = DefaultResetQuery
		}
		db.Origins["reset_query"] = Origin{}
	}
	db.Session = map[string]string{}
	if p, ok := LookupPreset(db.Preset); ok && p.Provider == db.URL.Provider {
		setSession(db.Session, db.Origins, p.Session, Origin{Kind: FromPreset, Name: p.Name})
	}
	setSession(db.Session, db.Origins, db.URL.Session, Origin{Kind: FromURL, Pos: src.urlPos})
	d.applyWrittenSession(db.URL.Provider, path, &src.written, db.Session, db.Origins)
	sessionTimeout(db.URL.Provider, db.Pool, db.Session, db.Origins)
}

// writtenAt records a file origin for key when it was written (pos is set).
func writtenAt(origins map[string]Origin, key string, pos Pos) {
	if pos.IsValid() {
		origins[key] = fileOrigin(pos)
	}
}

func presetsFor(p Provider) []string {
	var names []string
	for _, ps := range presets {
		if ps.Provider == p {
			names = append(names, ps.Name)
		}
	}
	return names
}

func setSession(dst map[string]string, origins map[string]Origin, src map[string]string, from Origin) {
	for k, v := range src {
		dst[k] = v
		origins["session."+k] = from
	}
}

var gucName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.$]*$`)

// applyWrittenSession checks and applies a session: map written in the file.
// Known settings of the provider are checked and spelled canonically;
// others pass through when they look like setting names.
func (d *decoder) applyWrittenSession(p Provider, path string, l *layerSource, dst map[string]string, origins map[string]Origin) {
	for key, val := range l.session {
		pos, kpath := l.sessionPos[key], path+".session."+key
		if key == string(SettingStatementTimeout) {
			d.errorAt(pos, kpath, "set statement_timeout as a setting of its own (statement_timeout: 30s), not under session")
			continue
		}
		name := key
		if prm, ok := sessionKey(p, key); ok {
			name = prm.key
			v, err := prm.check(key, msFromDuration(prm, val))
			if err != nil {
				d.errorAt(pos, kpath, "%v", err)
				continue
			}
			val = v
		} else if !gucName.MatchString(key) {
			d.errorAt(pos, kpath, "%q is not a valid setting name", truncate(key, 40))
			continue
		}
		dst[name] = val
		origins["session."+name] = fileOrigin(pos)
	}
}

// msFromDuration lets a millisecond session setting be written as a Go
// duration in YAML ("10s").
func msFromDuration(prm *param, val string) string {
	if dur, err := time.ParseDuration(val); err == nil && prm.ms {
		return strconv.FormatInt(ceilMillis(dur), 10)
	}
	return val
}

// ceilMillis is d in whole milliseconds, rounded up: the server takes these
// settings in milliseconds, where 0 means none, so 500µs must not become 0.
func ceilMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d%time.Millisecond > 0 {
		ms++
	}
	return ms
}

// sessionTimeout puts a PostgreSQL pool's statement timeout into its
// session settings, in milliseconds, with the origin of the pool setting.
func sessionTimeout(p Provider, pool Pool, session map[string]string, origins map[string]Origin) {
	delete(session, string(SettingStatementTimeout))
	delete(origins, "session."+string(SettingStatementTimeout))
	if p != ProviderPostgres || pool.StatementTimeout == 0 {
		return
	}
	session[string(SettingStatementTimeout)] = strconv.FormatInt(ceilMillis(pool.StatementTimeout), 10)
	origins["session."+string(SettingStatementTimeout)] = origins[string(SettingStatementTimeout)]
}

func (d *decoder) resolveService(s *source, src *svcSource) {
	svc := src.svc
	path := "services." + svc.Name
	if svc.Database == "" && len(s.databases) == 1 {
		svc.Database = s.databases[0].db.Name
	}
	var dbs *dbSource
	for _, cand := range s.databases {
		if cand.db.Name == svc.Database {
			dbs = cand
		}
	}
	if dbs == nil {
		names := make([]string, len(s.databases))
		for i, c := range s.databases {
			names[i] = c.db.Name
		}
		if svc.Database == "" {
			d.errorAt(svc.Pos, path, "database is required when there is more than one database")
		} else {
			d.errorAt(src.databasePos, path+".database", "unknown database %q%s", truncate(svc.Database, 40), didYouMean(svc.Database, names))
		}
		return
	}
	var st *ServiceType
	if t, ok := LookupServiceType(svc.Type); ok {
		st = &t
	}
	layers := append(dbs.layers(s.cfg.Profile, st),
		layer{over: &src.written.fields, from: Origin{Kind: FromFile}, pos: src.written.fieldPos})
	svc.Pool, svc.Origins = resolvePool(layers)
	writtenAt(svc.Origins, "database", src.databasePos)
	writtenAt(svc.Origins, "type", src.typePos)
	writtenAt(svc.Origins, "match.user", src.matchPos)
	writtenAt(svc.Origins, "match.application_name", src.matchPos)
	svc.Session = maps.Clone(dbs.db.Session)
	for k, o := range dbs.db.Origins {
		if strings.HasPrefix(k, "session.") {
			svc.Origins[k] = o
		}
	}
	provider := dbs.db.URL.Provider
	d.applyWrittenSession(provider, path, &src.written, svc.Session, svc.Origins)
	sessionTimeout(provider, svc.Pool, svc.Session, svc.Origins)
}
