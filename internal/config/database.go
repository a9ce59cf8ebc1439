package config

import (
	"go.yaml.in/yaml/v3"
)

var databaseKeys = append([]string{"url", "preset", "budget", "session", "reset_query", "server_cleartext_password"}, settingNames()...)

func (d *decoder) decodeDatabase(name string, k, n *yaml.Node) *dbSource {
	path := "databases." + name
	src := &dbSource{db: &Database{Name: name, Pos: d.pos(k)}}
	db := src.db
	if name == "" || len(name) > 63 {
		d.errorf(k, path, "a database name must be 1 to 63 bytes long")
	}
	if r := d.resolve(n); r != nil && r.Kind == yaml.ScalarNode && !isNull(r) {
		d.errorf(r, path, "want a mapping with the url, as in %s: { url: \"postgresql://...\" }, got a scalar", truncate(name, 40))
		return src
	}
	hasURL := false
	d.mapping(n, path, databaseKeys, func(key string, _, v *yaml.Node) {
		p := join(path, key)
		switch key {
		case "url":
			hasURL = true
			src.urlPos = d.pos(v)
			raw, ok := d.scalar(v, p)
			if !ok {
				return
			}
			u, err := ParseURL(raw)
			if err != nil {
				d.errorf(v, p, "%v", err)
				return
			}
			db.URL = u
		case "preset":
			src.presetPos = d.pos(v)
			d.str(v, p, &db.Preset)
		case "budget":
			src.budgetPos = d.pos(v)
			d.integer(v, p, 0, maxConns*10, &db.Budget)
		case "session":
			d.decodeSession(v, p, &src.written)
		case "reset_query":
			src.resetSet, src.resetPos = d.str(v, p, &db.ResetQuery), d.pos(v)
		case "server_cleartext_password":
			src.cleartextPos = d.pos(v)
			d.boolean(v, p, &db.ServerCleartextPassword)
		default:
			d.writtenSetting(v, p, Setting(key), &src.written)
		}
	})
	if !hasURL {
		d.errorf(k, path, "url is required")
	}
	return src
}

// writtenSetting decodes a pool setting written on a database or service.
func (d *decoder) writtenSetting(v *yaml.Node, path string, name Setting, l *layerSource) {
	if d.setting(v, path, name, &l.fields) {
		if l.fieldPos == nil {
			l.fieldPos = map[string]Pos{}
		}
		l.fieldPos[string(name)] = d.pos(v)
	}
}

// decodeSession reads a session: map. Its keys are checked later, once the
// provider is known.
func (d *decoder) decodeSession(n *yaml.Node, path string, l *layerSource) {
	l.session, l.sessionPos = map[string]string{}, map[string]Pos{}
	d.mapping(n, path, nil, func(key string, _, v *yaml.Node) {
		if val, ok := d.scalar(v, join(path, key)); ok {
			l.session[key] = val
			l.sessionPos[key] = d.pos(v)
		}
	})
}

var serviceKeys = append([]string{"database", "match", "type", "session"}, settingNames()...)

func (d *decoder) decodeService(name string, k, n *yaml.Node) *svcSource {
	path := "services." + name
	src := &svcSource{svc: &Service{Name: name, Pos: d.pos(k)}, matchPos: d.pos(k)}
	svc := src.svc
	d.mapping(n, path, serviceKeys, func(key string, _, v *yaml.Node) {
		p := join(path, key)
		switch key {
		case "database":
			src.databasePos = d.pos(v)
			d.str(v, p, &svc.Database)
		case "type":
			src.typePos = d.pos(v)
			if d.str(v, p, &svc.Type) {
				if _, ok := LookupServiceType(svc.Type); !ok {
					d.errorf(v, p, "unknown service type %q: want one of %s%s", truncate(svc.Type, 40), listOf(serviceTypeNames()), didYouMean(svc.Type, serviceTypeNames()))
				}
			}
		case "match":
			src.matchPos = d.pos(v)
			d.mapping(v, p, []string{"user", "application_name"}, func(key string, _, v *yaml.Node) {
				if key == "user" {
					d.str(v, p+".user", &svc.Match.User)
				} else {
					d.str(v, p+".application_name", &svc.Match.ApplicationName)
				}
			})
		case "session":
			d.decodeSession(v, p, &src.written)
		default:
			d.writtenSetting(v, p, Setting(key), &src.written)
		}
	})
	return src
}
