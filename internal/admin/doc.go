// Package admin is motorpool's operator interface: the PgBouncer-compatible
// admin console (SHOW POOLS, PAUSE, …) that the protocol adapters render, the
// Prometheus metrics, the HTTP JSON API, the web dashboard, and the sampler
// that feeds internal/monitor once a second.
//
// Everything is built around one [Admin], made by [New] from the running
// proxy and a monitor. The daemon installs it as the proxy's console and
// observer, starts the sampler with [Admin.Run] and serves [Admin.Handler] on
// admin.listen through [Server]. The handler answers only the Host names
// that name it (IP literals, localhost, admin.allowed_hosts), so that a web
// page cannot read it through DNS rebinding; see [Options.AllowedHosts].
package admin
