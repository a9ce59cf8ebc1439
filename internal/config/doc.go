// Package config is motorpool's configuration model: the YAML file, the
// database connection URLs, the built-in profiles, presets and service
// types, and the resolution of every pool setting with its origin. It is
// the single source of truth for pool settings; the proxy, the pools and
// the monitor read the resolved Config and never apply defaults of their
// own.
//
// # Loading
//
// Load (or Parse) reads the file, substitutes ${VAR} and ${VAR:-default}
// from the environment in every value, decodes it strictly (an unknown key
// is an error that suggests the closest known one), resolves each pool and
// validates the result. Every problem is reported at once as an Errors
// value whose entries read
//
//	motorpool.yaml:14:10: databases.shop.url: connection_limit must be between 1 and 10000, got 0
//
// Passwords and tokens never appear in errors or in printed output: URLs
// print with the password as "xxxxx" and Secret values print as "xxxxx".
//
// # Precedence
//
// Each pool setting is resolved in layers, weakest first:
//
//	built-in default < profile < preset < URL parameter < YAML field
//	  < service type < service's YAML field
//
// The profile is the top-level `profile:`; the preset, URL and first YAML
// fields are those of the database; the service type and the service's own
// fields apply to a service's pool only, on top of its database's layers. The Origin of every resolved setting is kept, so
// `motorpool check` can show where each value came from.
//
// # URL parameters
//
// Every provider takes the pool settings as query parameters, in the
// lesson's (Prisma's) units: connection_limit, min_connections,
// max_connecting, pool_mode, prepared_statements (true/false),
// pool_timeout, connect_timeout, idle_timeout and max_lifetime in seconds,
// statement_timeout and validation_timeout in milliseconds. Fractions are
// allowed ("pool_timeout=0.5").
//
// PostgreSQL URLs also take sslmode, sslrootcert, sslcert, sslkey and the
// session settings application_name, lock_timeout and
// idle_in_transaction_session_timeout (milliseconds), search_path (or
// Prisma's schema) and timezone.
//
// MySQL URLs take sslmode, sslrootcert, sslcert, sslkey and the session
// settings application_name, charset, time_zone, transaction_isolation,
// autocommit and sql_mode.
//
// MongoDB URLs (one or more hosts, or mongodb+srv) take the MongoDB
// driver's pool options as aliases (minPoolSize, maxPoolSize,
// maxConnecting, and waitQueueTimeoutMS, connectTimeoutMS, maxIdleTimeMS in
// milliseconds), tls/ssl, tlsCAFile, tlsCertificateKeyFile, replicaSet,
// authSource, authMechanism, directConnection, and the settings appName
// (or application_name), w, wtimeoutMS, journal, readPreference,
// readConcernLevel, retryReads, retryWrites, heartbeatFrequencyMS and
// serverSelectionTimeoutMS. MongoDB names match without regard to case.
//
// # Reload
//
// Diff compares two configurations and says, for each change, whether it
// applies live, needs new server connections, or needs a restart.
package config
