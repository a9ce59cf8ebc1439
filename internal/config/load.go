package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds the configuration file Parse accepts.
const maxFileSize = 4 << 20

// Load reads, resolves and validates the configuration file at path, with
// ${VAR} references taken from the process environment. See Parse.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, os.LookupEnv)
}

// readFile reads at most one byte more than Parse accepts, so that a device
// or a pipe that never ends (-c /dev/zero) is refused instead of read for ever.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

// Parse resolves and validates a configuration. name is used in positions
// (usually the file name); env looks up environment variables for ${VAR}
// references (nil: none are set).
//
// On success the Config has every setting resolved and Warnings set. When
// the configuration is invalid Parse returns a nil Config and an Errors
// listing every problem found, each with FILE:LINE:COL and the setting's
// path.
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	d := &decoder{file: name, env: env}
	if len(data) > maxFileSize {
		return nil, Errors{{Pos: Pos{File: name}, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}}
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, Errors{yamlProblem(name, err)}
	}
	s := d.decodeConfig(root)
	if len(d.errs) == 0 {
		d.resolveConfig(s)
		d.validate(s)
	}
	if len(d.errs) > 0 {
		sortProblems(d.errs)
		return nil, Errors(d.errs)
	}
	sortProblems(d.warns)
	s.cfg.Warnings = d.warns
	return s.cfg, nil
}

// parseYAML returns the root node of the only document in data, or nil for
// an empty document.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	// The YAML parser has had panics on malformed input; a configuration
	// error must never crash the caller.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("yaml: line %d: more than one YAML document (---); put everything in one", extra.Line)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// yamlProblem turns a YAML syntax error into a Problem with its line.
func yamlProblem(file string, err error) *Problem {
	p := &Problem{Pos: Pos{File: file}, Msg: err.Error()}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		p.Pos.Line, _ = strconv.Atoi(m[1])
		p.Msg = m[2]
	}
	return p
}

// source is a configuration as decoded, with what resolution and
// validation need to know about where things were written.
type source struct {
	cfg          *Config
	databases    []*dbSource
	services     []*svcSource
	listenPos    Pos
	adminPos     Pos
	authPos      map[string]Pos // auth user name -> position
	authQueryPos Pos
}

// layerSource is the pool settings and session settings written on a
// database or service, with their positions.
type layerSource struct {
	fields     Overrides
	fieldPos   map[string]Pos
	session    map[string]string
	sessionPos map[string]Pos
}

type dbSource struct {
	db           *Database
	urlPos       Pos
	presetPos    Pos
	budgetPos    Pos
	cleartextPos Pos
	resetSet     bool
	resetPos     Pos
	written      layerSource
}

type svcSource struct {
	svc         *Service
	databasePos Pos
	typePos     Pos
	matchPos    Pos
	written     layerSource
}

var topKeys = []string{"listen", "max_client_connections", "profile", "log", "tls", "auth", "admin", "databases", "services", "scaling"}

func (d *decoder) decodeConfig(root *yaml.Node) *source {
	cfg := &Config{
		File:                 d.file,
		Listen:               DefaultListen,
		MaxClientConnections: DefaultMaxClientConnections,
		Log:                  Log{Format: "text"},
		TLS:                  TLS{Mode: TLSDisable},
		Auth:                 Auth{Type: AuthSCRAM},
		Admin:                Admin{Listen: DefaultAdminListen},
		Origins:              map[string]Origin{},
	}
	s := &source{cfg: cfg, authPos: map[string]Pos{}}
	databasesBroken := false // databases: is there but not a mapping, which is reported
	for _, k := range []string{"listen", "max_client_connections", "profile", "log.level", "log.format",
		"tls.mode", "auth.type", "admin.listen"} {
		cfg.Origins[k] = Origin{}
	}
	d.mapping(root, "", topKeys, func(key string, k, v *yaml.Node) {
		written := true
		switch key {
		case "listen":
			written = d.str(v, key, &cfg.Listen)
			s.listenPos = d.pos(v)
		case "max_client_connections":
			written = d.integer(v, key, 1, 1000000, &cfg.MaxClientConnections)
		case "profile":
			written = d.profile(v, cfg)
		case "log":
			d.decodeLog(v, cfg)
		case "tls":
			d.decodeTLS(v, cfg)
		case "auth":
			d.decodeAuth(v, s)
		case "admin":
			d.decodeAdmin(v, s)
		case "databases":
			nerrs := len(d.errs)
			defer func() { databasesBroken = len(d.errs) > nerrs && len(s.databases) == 0 }()
			d.mapping(v, key, nil, func(name string, k, v *yaml.Node) {
				s.databases = append(s.databases, d.decodeDatabase(name, k, v))
			})
		case "services":
			d.mapping(v, key, nil, func(name string, k, v *yaml.Node) {
				s.services = append(s.services, d.decodeService(name, k, v))
			})
		case "scaling":
			d.decodeScaling(v, cfg)
		}
		if _, tracked := cfg.Origins[key]; tracked && written {
			cfg.Origins[key] = fileOrigin(d.pos(v))
		}
	})
	if len(s.databases) == 0 && !databasesBroken {
		d.errorAt(d.pos(root), "databases", "at least one database is required")
	}
	return s
}

func fileOrigin(p Pos) Origin { return Origin{Kind: FromFile, Pos: p} }

func (d *decoder) profile(v *yaml.Node, cfg *Config) bool {
	name, ok := d.scalar(v, "profile")
	if !ok {
		return false
	}
	if _, known := LookupProfile(name); !known && name != "" {
		d.errorf(v, "profile", "unknown profile %q: want one of %s%s", truncate(name, 40), listOf(profileNames()), didYouMean(name, profileNames()))
		return false
	}
	cfg.Profile = name
	return true
}

func (d *decoder) decodeLog(n *yaml.Node, cfg *Config) {
	d.mapping(n, "log", []string{"level", "format"}, func(key string, _, v *yaml.Node) {
		path := "log." + key
		val, ok := d.scalar(v, path)
		if !ok {
			return
		}
		switch key {
		case "level":
			if err := cfg.Log.Level.UnmarshalText([]byte(val)); err != nil || val == "" {
				d.errorf(v, path, "want debug, info, warn or error, got %q", truncate(val, 40))
				return
			}
		case "format":
			if val != "text" && val != "json" {
				d.errorf(v, path, "want text or json, got %q", truncate(val, 40))
				return
			}
			cfg.Log.Format = val
		}
		cfg.Origins[path] = fileOrigin(d.pos(v))
	})
}

func (d *decoder) decodeTLS(n *yaml.Node, cfg *Config) {
	d.mapping(n, "tls", []string{"mode", "cert", "key"}, func(key string, _, v *yaml.Node) {
		path := "tls." + key
		val, ok := d.scalar(v, path)
		if !ok {
			return
		}
		switch key {
		case "mode":
			modes := []string{string(TLSDisable), string(TLSAllow), string(TLSRequire)}
			m, err := enumParser(TLSDisable, TLSAllow, TLSRequire)(path, val, 0)
			if err != nil {
				d.errorf(v, path, "want one of %s, got %q%s", listOf(modes), truncate(val, 40), didYouMean(val, modes))
				return
			}
			cfg.TLS.Mode = m
			cfg.Origins[path] = fileOrigin(d.pos(v))
		case "cert":
			cfg.TLS.Cert = val
		case "key":
			cfg.TLS.Key = val
		}
	})
}

func (d *decoder) decodeAdmin(n *yaml.Node, s *source) {
	cfg := s.cfg
	d.mapping(n, "admin", []string{"listen", "users", "stats_users", "token", "allowed_hosts"}, func(key string, _, v *yaml.Node) {
		path := "admin." + key
		switch key {
		case "listen":
			if d.str(v, path, &cfg.Admin.Listen) {
				cfg.Origins[path] = fileOrigin(d.pos(v))
				s.adminPos = d.pos(v)
			}
		case "users":
			cfg.Admin.Users = d.list(v, path)
		case "stats_users":
			cfg.Admin.StatsUsers = d.list(v, path)
		case "token":
			var tok string
			d.str(v, path, &tok)
			cfg.Admin.Token = Secret(tok)
		case "allowed_hosts":
			cfg.Admin.AllowedHosts = d.checkedList(v, path, d.allowedHost)
			cfg.Origins[path] = fileOrigin(d.pos(v))
		}
	})
}

func (d *decoder) decodeScaling(n *yaml.Node, cfg *Config) {
	d.mapping(n, "scaling", []string{"rules", "predictive"}, func(key string, _, v *yaml.Node) {
		switch key {
		case "rules":
			d.decodeRules(v, cfg)
		case "predictive":
			d.mapping(v, "scaling.predictive", []string{"enabled"}, func(_ string, _, v *yaml.Node) {
				d.boolean(v, "scaling.predictive.enabled", &cfg.Scaling.Predictive.Enabled)
			})
		}
	})
}

func listOf(names []string) string {
	var b bytes.Buffer
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}
