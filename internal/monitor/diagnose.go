package monitor

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Cause is a reason clients wait for server connections, from the lesson's
// troubleshooter.
type Cause string

// The causes the diagnosis tells apart.
const (
	PoolTooSmall        Cause = "pool_too_small"
	DatabaseUnreachable Cause = "database_unreachable"
	DatabaseSlow        Cause = "database_slow"
	ConnectionLeak      Cause = "connection_leak"
	IdleInTransaction   Cause = "idle_in_transaction"
	IdleSessions        Cause = "idle_sessions"
)

// Finding is one cause the diagnosis found, with what shows it and what to do.
type Finding struct {
	Cause    Cause  `json:"cause"`
	Severity string `json:"severity"` // critical, high, medium
	Summary  string `json:"summary"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix"`
}

// Symptoms are the facts the diagnosis weighs beyond the recent window.
type Symptoms struct {
	// Baseline is a longer window (an hour) to compare query times with.
	Baseline Window
	Settings Settings
	Conns    ConnSummary
	// LastDialError is the last failed dial's error, "" once a dial succeeds.
	LastDialError string
	// LastDialCode is its SQLSTATE when the database refused the connection, else "".
	LastDialCode string
}

// Diagnose explains why clients of a pool wait, from its recent window w. It
// returns nothing when no client waited (no waiting acquirer, no timeout and a
// mean acquire below the healthy limit), and otherwise the causes found, most
// severe first. Several causes can hold at once: a slow database makes a pool
// look too small.
func Diagnose(w Window, sy Symptoms, t Thresholds) []Finding {
	if w.Samples == 0 || !clientsWait(w, t) {
		return nil
	}
	var out []Finding
	// Only while the last dial failed: once one succeeds the database is
	// reachable again, and the window's failures are history (the alerts keep
	// them).
	if sy.LastDialError != "" && (w.Unreachable > 0 || w.ConnErrors > 0) {
		out = append(out, Finding{
			Cause: DatabaseUnreachable, Severity: "critical",
			Summary:  "the database cannot be reached or refuses motorpool's connections",
			Evidence: fmt.Sprintf("%s, %s failed as unreachable; last error: %s", plural(w.ConnErrors, "connection error", "connection errors"), plural(w.Unreachable, "acquire", "acquires"), sy.LastDialError),
			Fix:      unreachableFix(sy.LastDialCode),
		})
	}
	transactional := sy.Settings.Mode != "session"
	if leaked := sy.Conns.Leaked > 0 || w.Leaks > 0; leaked || transactional && sy.Conns.OldestLease > t.LeakAfter {
		out = append(out, Finding{
			Cause: ConnectionLeak, Severity: "high",
			Summary:  "server connections are held far longer than transactions last",
			Evidence: fmt.Sprintf("oldest lease held %s, %s reported as leaked", human(sy.Conns.OldestLease), plural(sy.Conns.Leaked+int(w.Leaks), "lease", "leases")),
			Fix:      "find the client holding it (SHOW SERVERS, /api/v1/servers) and make sure it ends its transactions; set idle_in_transaction_session_timeout",
		})
	}
	if transactional && w.Transactions > 0 && w.TxMean.Std() >= 50*time.Millisecond && w.QueryTime < w.TxTime/2 {
		idle := 1 - float64(w.QueryTime)/float64(w.TxTime)
		out = append(out, Finding{
			Cause: IdleInTransaction, Severity: "high",
			Summary:  "clients keep transactions open while not running queries",
			Evidence: fmt.Sprintf("server connections sit idle in transaction %s of the time transactions last (mean transaction %s, mean query %s)", percent(idle), w.TxMean, w.QueryMean),
			Fix:      "commit sooner, do no other work inside transactions, and set idle_in_transaction_session_timeout",
		})
	}
	// In session mode a client holds its server connection from login to
	// logout: clients that connect and sit idle take connections no query
	// uses, and the pool looks full without being busy.
	if !transactional && w.Utilization > t.Warning.Utilization && w.LeaseTime > 0 && w.TxTime < w.LeaseTime/2 {
		out = append(out, Finding{
			Cause: IdleSessions, Severity: "high",
			Summary:  "session-mode clients hold server connections while running nothing",
			Evidence: fmt.Sprintf("server connections were held outside any transaction %s of the time (held %s, in transactions %s)", percent(1-float64(w.TxTime)/float64(w.LeaseTime)), w.LeaseTime, w.TxTime),
			Fix:      "use pool_mode: transaction, so that a client holds a server connection only during its transactions; or have clients disconnect when idle; or raise connection_limit to the number of clients connected at once",
		})
	}
	if b := sy.Baseline; w.Queries > 0 && b.Queries > w.Queries && b.Samples >= 5*w.Samples &&
		w.QueryMean.Std() >= 2*b.QueryMean.Std() && w.QueryMean.Std() >= 10*time.Millisecond {
		out = append(out, Finding{
			Cause: DatabaseSlow, Severity: "medium",
			Summary:  "queries take much longer than usual, so connections are held longer",
			Evidence: fmt.Sprintf("mean query %s in the last %s against %s over %s", w.QueryMean, w.Span, b.QueryMean, b.Span),
			Fix:      "look at the database: pg_stat_activity, locks, slow query log; adding connections will not help a saturated database",
		})
	}
	if w.Utilization > t.Warning.Utilization && !slices.ContainsFunc(out, func(f Finding) bool { return f.Cause == DatabaseUnreachable || f.Cause == IdleSessions }) {
		out = append(out, Finding{
			Cause: PoolTooSmall, Severity: "high",
			Summary:  "the pool is too small for the load: every server connection is busy while clients wait",
			Evidence: fmt.Sprintf("utilization %s, %.1f clients waiting on average (at most %d), %s", percent(w.Utilization), w.Waiting, w.WaitingMax, plural(w.Timeouts, "acquire timeout", "acquire timeouts")),
			Fix:      "raise connection_limit (see the recommendation), or shorten transactions",
		})
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return severityRank(b.Severity) - severityRank(a.Severity) })
	return out
}

// clientsWait reports whether clients waited noticeably in w.
func clientsWait(w Window, t Thresholds) bool {
	return w.WaitingMax > 0 || w.Timeouts > 0 || w.Unreachable > 0 || w.AcquireMean.Std() >= t.Healthy.Acquire
}

func severityRank(s string) int {
	switch s {
	case "critical":
		return 3
	case "high":
		return 2
	case "medium":
		return 1
	}
	return 0
}

// unreachableFix is what to do about a database that refuses motorpool's connections
// with the SQLSTATE code, or that cannot be reached at all (code "").
func unreachableFix(code string) string {
	switch {
	case code == "53300":
		return "the database has no connection slot left (max_connections, or a CONNECTION LIMIT of the role or database): lower the connection_limit of motorpool's pools or the connections of other clients, or raise the database's limit"
	case code == "28P01" || code == "28000":
		return "the database refuses the user or password of the database URL: correct them"
	case code == "3D000":
		return "the database named in the database URL does not exist: correct the URL or create it"
	case code == "57P03":
		return "the database is starting up, shutting down or in recovery: it accepts connections again once that is over"
	case strings.HasPrefix(code, "53"):
		return "the database server is out of resources (memory, disk or connection slots): see its log"
	}
	return "check the database server, the network path and the credentials in the database URL"
}
