package main

import (
	"fmt"
	"strings"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/proxy"
)

// preflight returns what would stop serve with a configuration that config
// accepts: a database it cannot proxy (serve speaks PostgreSQL only) and TLS
// files it cannot load. check reports them as errors, so that a file check
// accepts is one serve starts with, and serve and reloads refuse them before
// anything starts or changes. It reads the TLS files but opens no connection.
func preflight(cfg *config.Config) config.Errors {
	var errs config.Errors
	add := func(pos config.Pos, path, format string, args ...any) {
		errs = append(errs, &config.Problem{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if _, err := loadTLS(cfg.TLS); err != nil {
		pos := cfg.Origins["tls.mode"].Pos
		if !pos.IsValid() {
			pos = config.Pos{File: cfg.File}
		}
		add(pos, "tls", "cannot load cert and key: %s", strings.TrimPrefix(err.Error(), "tls: "))
	}
	for _, db := range cfg.Databases {
		pos, path := db.Origins["url"].Pos, "databases."+db.Name+".url"
		if db.URL.Provider != config.ProviderPostgres {
			add(pos, path, "motorpool serve proxies PostgreSQL only (postgresql:// or postgres://), not %s", db.URL.Provider)
			continue
		}
		if err := proxy.CheckServerTLS(db.URL); err != nil {
			add(pos, path, "%v", err)
		}
	}
	return errs
}

// load loads file and runs preflight on it: the configuration check reports
// and serve runs. Its error is a config.Errors when the file is invalid.
func load(file string) (*config.Config, error) {
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	if errs := preflight(cfg); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}
