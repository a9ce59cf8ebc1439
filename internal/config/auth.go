package config

import (
	"encoding/base64"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

func (d *decoder) decodeAuth(n *yaml.Node, s *source) {
	cfg := s.cfg
	d.mapping(n, "auth", []string{"type", "users", "auth_query"}, func(key string, _, v *yaml.Node) {
		path := "auth." + key
		switch key {
		case "type":
			val, ok := d.scalar(v, path)
			if !ok {
				return
			}
			types := []string{string(AuthSCRAM), string(AuthMD5), string(AuthTrust)}
			t, err := enumParser(AuthSCRAM, AuthMD5, AuthTrust)(path, val, 0)
			if err != nil {
				d.errorf(v, path, "want one of %s, got %q%s", listOf(types), truncate(val, 40), didYouMean(val, types))
				return
			}
			cfg.Auth.Type = t
			cfg.Origins[path] = fileOrigin(d.pos(v))
		case "users":
			d.mapping(v, path, nil, func(name string, k, v *yaml.Node) {
				u := User{Name: name}
				d.mapping(v, path+"."+name, []string{"password"}, func(_ string, _, v *yaml.Node) {
					var pw string
					d.str(v, path+"."+name+".password", &pw)
					u.Password = Secret(pw)
				})
				cfg.Auth.Users = append(cfg.Auth.Users, u)
				s.authPos[name] = d.pos(k)
			})
		case "auth_query":
			q := &AuthQuery{Query: DefaultAuthQuery}
			s.authQueryPos = d.pos(v)
			d.mapping(v, path, []string{"user", "password", "query"}, func(key string, _, v *yaml.Node) {
				switch key {
				case "user":
					d.str(v, path+".user", &q.User)
				case "password":
					var pw string
					d.str(v, path+".password", &pw)
					q.Password = Secret(pw)
				case "query":
					d.str(v, path+".query", &q.Query)
				}
			})
			cfg.Auth.Query = q
		}
	})
}

var (
	scramVerifier = regexp.MustCompile(`^SCRAM-SHA-256\$([0-9]+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$`)
	md5Hash       = regexp.MustCompile(`^md5[0-9a-f]{32}$`)
)

// PasswordKind says what a stored password is: a SCRAM-SHA-256 verifier, an
// MD5 hash or cleartext. A string that starts like a verifier but is
// malformed is cleartext here; Load rejects it.
func (s Secret) PasswordKind() PasswordKind {
	switch {
	case validSCRAM(string(s)):
		return PasswordSCRAM
	case md5Hash.MatchString(string(s)):
		return PasswordMD5
	}
	return PasswordCleartext
}

func validSCRAM(s string) bool {
	m := scramVerifier.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	for _, part := range m[2:] {
		if _, err := base64.StdEncoding.DecodeString(part); err != nil {
			return false
		}
	}
	return true
}

// anyURLLogin reports whether a database URL names a user and password, which
// clients can log in with when auth.users does not know them.
func anyURLLogin(s *source) bool {
	for _, src := range s.databases {
		if u := src.db.URL; u.User != "" && u.Password != "" {
			return true
		}
	}
	return false
}

// validateAuth checks the users' passwords against the auth type.
func (d *decoder) validateAuth(s *source) {
	a := s.cfg.Auth
	for _, u := range a.Users {
		path := "auth.users." + u.Name + ".password"
		pos := s.authPos[u.Name]
		pw := string(u.Password)
		switch {
		case pw == "" && a.Type != AuthTrust:
			d.errorAt(pos, path, "a password is required with auth type %s", a.Type)
		case strings.HasPrefix(pw, "SCRAM-SHA-256$") && !validSCRAM(pw):
			d.errorAt(pos, path, "malformed SCRAM-SHA-256 verifier: want SCRAM-SHA-256$<iterations>:<salt>$<stored key>:<server key> in base64")
		case strings.HasPrefix(pw, "md5") && len(pw) == 35 && !md5Hash.MatchString(pw):
			d.errorAt(pos, path, "malformed MD5 hash: want md5 followed by 32 lower-case hex digits")
		case a.Type == AuthMD5 && u.Password.PasswordKind() == PasswordSCRAM:
			d.errorAt(pos, path, "a SCRAM-SHA-256 verifier cannot check MD5 authentication; give the cleartext password or an md5 hash, or use auth type scram-sha-256")
		case a.Type == AuthSCRAM && u.Password.PasswordKind() == PasswordMD5:
			d.errorAt(pos, path, "an MD5 hash cannot check SCRAM-SHA-256 authentication; give the cleartext password or a SCRAM verifier, or use auth type md5")
		}
	}
	if q := a.Query; q != nil {
		if q.User == "" {
			d.errorAt(s.authQueryPos, "auth.auth_query.user", "auth_query needs the user it runs as")
		}
		if !strings.Contains(q.Query, "$1") {
			d.errorAt(s.authQueryPos, "auth.auth_query.query", "the query must take the user name as $1")
		}
	}
	if len(a.Users) == 0 && a.Query == nil && a.Type != AuthTrust && !anyURLLogin(s) {
		d.warnAt(Pos{File: d.file}, "auth", "no users, no auth_query and no database URL with a user and password: no client can log in")
	}
	for key, names := range map[string][]string{"admin.users": s.cfg.Admin.Users, "admin.stats_users": s.cfg.Admin.StatsUsers} {
		for _, name := range names {
			if _, ok := s.authPos[name]; !ok && a.Type != AuthTrust {
				d.warnAt(Pos{File: d.file}, key, "%q is not a user under auth.users", truncate(name, 40))
			}
		}
	}
}
