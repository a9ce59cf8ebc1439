package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// paramKind says what a URL query parameter sets.
type paramKind uint8

const (
	paramPool    paramKind = iota // a pool setting (Overrides)
	paramSSLMode                  // URL.SSLMode
	paramOption                   // URL.Options: how to connect
	paramSession                  // URL.Session: sent to the server on each connection
)

// param is one known URL query parameter of a provider.
type param struct {
	name    string // canonical spelling
	kind    paramKind
	setting Setting       // paramPool: the setting it gives
	unit    time.Duration // paramPool: unit of a bare number when it differs from the setting's
	key     string        // paramOption, paramSession: the map key it sets
	check   func(name, v string) (string, error)
	ms      bool // a session setting in milliseconds; YAML may give a Go duration
	sslMode func(v string) (SSLMode, error)
}

// target is what the parameter sets; two parameters with the same target
// may not both be given.
func (p *param) target() string {
	switch p.kind {
	case paramPool:
		return string(p.setting)
	case paramSSLMode:
		return "sslmode"
	}
	return p.key
}

func poolParam(s Setting) param { return param{name: string(s), kind: paramPool, setting: s} }

func mongoPoolParam(name string, s Setting, unit time.Duration) param {
	return param{name: name, kind: paramPool, setting: s, unit: unit}
}

func optionParam(name string, check func(string, string) (string, error)) param {
	return param{name: name, kind: paramOption, key: name, check: check}
}

func sessionParam(name string, check func(string, string) (string, error)) param {
	return param{name: name, kind: paramSession, key: name, check: check}
}

func msParam(name string) param {
	p := sessionParam(name, millis)
	p.ms = true
	return p
}

func aliasParam(name, key string, kind paramKind, check func(string, string) (string, error)) param {
	return param{name: name, kind: kind, key: key, check: check}
}

// poolParams are the pool settings every provider takes in its URL.
func poolParams() []param {
	var out []param
	for _, sp := range specs {
		if sp.inURL {
			out = append(out, poolParam(sp.name))
		}
	}
	return out
}

var sslParams = []param{
	{name: "sslmode", kind: paramSSLMode, sslMode: parseSSLMode},
	optionParam("sslrootcert", anyText),
	optionParam("sslcert", anyText),
	optionParam("sslkey", anyText),
}

// urlParams lists each provider's known query parameters. MongoDB's are
// matched without regard to case, as its drivers do.
var urlParams = map[Provider][]param{
	ProviderPostgres: concat(poolParams(), sslParams, []param{
		sessionParam("application_name", anyText),
		msParam("lock_timeout"),
		msParam("idle_in_transaction_session_timeout"),
		sessionParam("search_path", anyText),
		aliasParam("schema", "search_path", paramSession, anyText), // Prisma's name
		sessionParam("timezone", anyText),
	}),
	ProviderMySQL: concat(poolParams(), sslParams, []param{
		sessionParam("application_name", anyText),
		sessionParam("charset", anyText),
		sessionParam("time_zone", anyText),
		sessionParam("transaction_isolation", isolation),
		sessionParam("autocommit", boolText),
		sessionParam("sql_mode", anyText),
	}),
	ProviderMongoDB: concat(poolParams(), []param{
		mongoPoolParam("minPoolSize", SettingMinConnections, 0),
		mongoPoolParam("maxPoolSize", SettingConnectionLimit, 0),
		mongoPoolParam("maxConnecting", SettingMaxConnecting, 0),
		mongoPoolParam("waitQueueTimeoutMS", SettingPoolTimeout, time.Millisecond),
		mongoPoolParam("connectTimeoutMS", SettingConnectTimeout, time.Millisecond),
		mongoPoolParam("maxIdleTimeMS", SettingIdleTimeout, time.Millisecond),
		{name: "tls", kind: paramSSLMode, sslMode: parseMongoTLS},
		{name: "ssl", kind: paramSSLMode, sslMode: parseMongoTLS},
		optionParam("tlsCAFile", anyText),
		optionParam("tlsCertificateKeyFile", anyText),
		optionParam("replicaSet", anyText),
		optionParam("authSource", anyText),
		optionParam("authMechanism", anyText),
		optionParam("directConnection", boolText),
		aliasParam("application_name", "appName", paramSession, anyText),
		sessionParam("appName", anyText),
		sessionParam("w", anyText),
		msParam("wtimeoutMS"),
		sessionParam("journal", boolText),
		sessionParam("readPreference", oneOf("primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest")),
		sessionParam("readConcernLevel", oneOf("local", "available", "majority", "linearizable", "snapshot")),
		sessionParam("retryReads", boolText),
		sessionParam("retryWrites", boolText),
		msParam("heartbeatFrequencyMS"),
		msParam("serverSelectionTimeoutMS"),
	}),
}

func concat(lists ...[]param) []param {
	var out []param
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// clientParams explain the parameters of Prisma's and libpq's URLs that
// motorpool does not take, which a URL copied from an application's
// configuration often carries. An edit-distance suggestion would mislead
// here (socket_timeout is not a misspelt lock_timeout).
var clientParams = map[string]string{
	"pgbouncer":            "it is a Prisma client option for the application's URL to motorpool, which it does not need there: motorpool keeps prepared statements working in transaction mode",
	"statement_cache_size": "it is a Prisma client option for the application's URL to motorpool; to stop motorpool preparing statements, use prepared_statements=false",
	"socket_timeout":       "it is a Prisma client option with no pooler equivalent; to bound queries use statement_timeout (milliseconds)",
	"sslaccept":            "it is Prisma's; use sslmode=verify-full for strict, sslmode=require to accept any certificate",
	"sslidentity":          "it is Prisma's PKCS#12 bundle; give the PEM files as sslcert and sslkey",
	"sslpassword":          "encrypted keys are not supported; give an unencrypted sslkey",
	"host":                 "put the host in the URL; a Unix socket directory goes there percent-encoded, as in postgresql://user@%2Fvar%2Frun%2Fpostgresql/db",
	"port":                 "put the port in the URL after the host, as in postgresql://user@host:5433/db",
	"options":              "give server settings as URL parameters (search_path, lock_timeout, ...) or under session: in the file",
}

// unknownParam is the error for a query parameter provider p does not take.
func unknownParam(p Provider, key string) error {
	libpq := key == "host" || key == "port" || key == "options"
	if why, ok := clientParams[key]; ok && (p == ProviderPostgres || p == ProviderMySQL && !libpq) {
		return fmt.Errorf("unknown parameter %q for %s: %s", truncate(key, 40), p, why)
	}
	return fmt.Errorf("unknown parameter %q for %s%s", truncate(key, 40), p, didYouMean(key, paramNames(p)))
}

// lookupParam finds a provider's query parameter by name.
func lookupParam(p Provider, name string) (*param, bool) {
	params := urlParams[p]
	for i := range params {
		if params[i].name == name || p == ProviderMongoDB && strings.EqualFold(params[i].name, name) {
			return &params[i], true
		}
	}
	return nil, false
}

// paramNames returns the names of a provider's query parameters, sorted.
func paramNames(p Provider) []string {
	var names []string
	for _, prm := range urlParams[p] {
		names = append(names, prm.name)
	}
	sort.Strings(names)
	return names
}

// ParamNames returns the query parameters a URL of provider p accepts,
// sorted. It is nil for an unknown provider.
func ParamNames(p Provider) []string { return paramNames(p) }

// sessionKey returns the canonical name of a provider's known session
// setting and its value check, for the YAML session map.
func sessionKey(p Provider, name string) (*param, bool) {
	prm, ok := lookupParam(p, name)
	if !ok || prm.kind != paramSession {
		return nil, false
	}
	return prm, true
}

func anyText(_, v string) (string, error) { return v, nil }

func millis(name, v string) (string, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > int64(30*day/time.Millisecond) {
		return "", fmt.Errorf("%s must be a whole number of milliseconds between 0 and %d, got %q", name, int64(30*day/time.Millisecond), truncate(v, 40))
	}
	return strconv.FormatInt(n, 10), nil
}

func boolText(name, v string) (string, error) {
	b, err := boolParser(name, v, 0)
	return strconv.FormatBool(b), err
}

func oneOf(values ...string) func(string, string) (string, error) {
	return func(name, v string) (string, error) {
		for _, ok := range values {
			if strings.EqualFold(ok, v) {
				return ok, nil
			}
		}
		return "", fmt.Errorf("%s must be one of %s, got %q%s", name, strings.Join(values, ", "), truncate(v, 40), didYouMean(v, values))
	}
}

// isolation accepts MySQL's isolation levels with '-', '_' or ' ' between
// words, in any case, and returns MySQL's spelling (READ-COMMITTED).
func isolation(name, v string) (string, error) {
	norm := strings.ToUpper(strings.NewReplacer("_", "-", " ", "-").Replace(v))
	return oneOf("READ-UNCOMMITTED", "READ-COMMITTED", "REPEATABLE-READ", "SERIALIZABLE")(name, norm)
}

var sslModes = []SSLMode{SSLDisable, SSLAllow, SSLPrefer, SSLRequire, SSLVerifyCA, SSLVerifyFull}

func parseSSLMode(v string) (SSLMode, error) {
	names := make([]string, len(sslModes))
	for i, m := range sslModes {
		if string(m) == v {
			return m, nil
		}
		names[i] = string(m)
	}
	return "", fmt.Errorf("sslmode must be one of %s, got %q%s", strings.Join(names, ", "), truncate(v, 40), didYouMean(v, names))
}

func parseMongoTLS(v string) (SSLMode, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return "", fmt.Errorf("tls must be true or false, got %q", truncate(v, 40))
	}
	if b {
		return SSLVerifyFull, nil
	}
	return SSLDisable, nil
}
