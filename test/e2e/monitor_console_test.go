package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/testenv"
)

// consoleTable runs a console command and returns its column names and rows,
// every value as text and NULL as "".
func consoleTable(t *testing.T, ctx context.Context, c *pgx.Conn, cmd string) ([]string, [][]string) {
	t.Helper()
	rows, err := c.Query(ctx, cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	var out [][]string
	for rows.Next() {
		vals := rows.RawValues() // text format: the simple protocol
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = string(v) // NULL as ""
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return cols, out
}

// column returns the value of column name in row.
func column(cols []string, row []string, name string) string {
	i := slices.Index(cols, name)
	if i < 0 {
		return "<no column " + name + ">"
	}
	return row[i]
}

func TestMonitorConsoleShow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := startMonitored(t, "", time.Minute)
	app := e.connect(t, ctx)
	for range 5 {
		if _, err := app.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	e.Admin.Sample(time.Now(), nil)

	if _, err := e.console(t, ctx, monAppUser, monAppPassword); err == nil || !strings.Contains(err.Error(), "admin console") {
		t.Fatalf("non-admin user on the console: err = %v, want a refusal", err)
	}
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		cmd  string
		cols []string // must be present, in this order
		rows int      // at least
	}{
		{"SHOW POOLS", []string{"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode"}, 1},
		{"SHOW STATS", []string{"database", "total_xact_count", "total_query_count", "total_received", "total_sent", "total_xact_time", "total_query_time", "total_wait_time", "avg_xact_count", "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time"}, 1},
		{"SHOW CLIENTS", pgBouncerListColumns, 1},
		{"SHOW TOTALS", []string{"name", "value"}, 14},
		{"SHOW STATS_TOTALS", []string{"database", "xact_count", "query_count", "bytes_received", "bytes_sent", "xact_time", "query_time", "wait_time"}, 1},
		{"SHOW STATS_AVERAGES", []string{"database", "xact_count", "query_count", "bytes_received", "bytes_sent", "xact_time", "query_time", "wait_time"}, 1},
		{"SHOW SERVERS", pgBouncerListColumns, 1},
		{"SHOW USERS", []string{"name", "pool_size", "reserve_pool_size", "pool_mode", "max_user_connections", "current_connections", "max_user_client_connections", "current_client_connections"}, 3},
		{"SHOW LISTS", []string{"list", "items"}, 12},
		{"SHOW DATABASES", []string{"name", "host", "port", "database", "force_user", "pool_size", "min_pool_size", "reserve_pool_size", "server_lifetime", "pool_mode", "max_connections", "current_connections", "paused", "disabled"}, 1},
		{"SHOW CONFIG", []string{"key", "value", "default", "changeable"}, 10},
		{"SHOW VERSION", []string{"version"}, 1},
		{"show health", []string{"pool", "status", "reason", "utilization", "diagnosis"}, 1},
		{"SHOW ALERTS", []string{"pool", "type", "level", "state", "message", "fired_at", "resolved_at"}, 0},
		{"SHOW RECOMMENDATIONS", []string{"pool", "priority", "setting", "current", "suggested", "implementation"}, 0},
		{"SHOW DIAGNOSIS", []string{"pool", "cause", "severity", "summary", "evidence", "fix"}, 0},
		{"SHOW HELP", []string{"command"}, 10},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.cmd, " ", "_"), func(t *testing.T) {
			cols, rows := consoleTable(t, ctx, con, tt.cmd)
			j := 0
			for _, c := range cols {
				if j < len(tt.cols) && c == tt.cols[j] {
					j++
				}
			}
			if j < len(tt.cols) {
				t.Errorf("columns %v lack %v in order", cols, tt.cols[j:])
			}
			if len(rows) < tt.rows {
				t.Errorf("%d rows, want at least %d", len(rows), tt.rows)
			}
		})
	}

	cols, rows := consoleTable(t, ctx, con, "SHOW STATS")
	if got := column(cols, rows[0], "total_xact_count"); got == "0" {
		t.Errorf("SHOW STATS counted no transactions: %v", rows[0])
	}
	if got := column(cols, rows[0], "total_query_count"); got == "0" {
		t.Errorf("SHOW STATS counted no queries: %v", rows[0])
	}
	// One database: the totals are its statistics, under PgBouncer's SHOW
	// TOTALS names.
	tcols, trows := consoleTable(t, ctx, con, "SHOW TOTALS")
	var names []string
	asStats := strings.NewReplacer("total_client_bytes", "total_received", "total_server_bytes", "total_sent")
	for _, r := range trows {
		names = append(names, r[0])
		if stat := asStats.Replace(r[0]); strings.HasPrefix(r[0], "total_") && r[1] != column(cols, rows[0], stat) {
			t.Errorf("SHOW TOTALS %s = %s, SHOW STATS has %s", r[0], r[1], column(cols, rows[0], stat))
		}
	}
	if want := []string{"total_xact_count", "total_query_count", "total_client_bytes", "total_server_bytes",
		"total_xact_time", "total_query_time", "total_wait_time", "avg_xact_count", "avg_query_count",
		"avg_client_bytes", "avg_server_bytes", "avg_xact_time", "avg_query_time", "avg_wait_time"}; !slices.Equal(names, want) {
		t.Errorf("SHOW TOTALS rows %v, PgBouncer's are %v", names, want)
	}
	if got := byName(t, tcols, trows, "total_xact_count", "value"); got == "0" {
		t.Errorf("SHOW TOTALS counted no transactions: %v", trows)
	}
	// The app client and this console are logged in; the pool's server connections
	// log in as testenv.ScramUser; the users are the three of auth.users and it.
	cols, rows = consoleTable(t, ctx, con, "SHOW LISTS")
	for list, want := range map[string]string{"databases": "1", "users": "4", "pools": "1", "used_clients": "2",
		"login_clients": "0", "free_clients": "0", "free_servers": "0", "dns_names": "0", "dns_pending": "0"} {
		if got := byName(t, cols, rows, list, "items"); got != want {
			t.Errorf("SHOW LISTS %s = %s, want %s", list, got, want)
		}
	}
	if got := byName(t, cols, rows, "used_servers", "items"); got == "0" {
		t.Errorf("SHOW LISTS used_servers = 0 after queries: %v", rows)
	}
	cols, rows = consoleTable(t, ctx, con, "SHOW USERS")
	for _, u := range []struct{ name, col, want string }{
		{monAppUser, "current_client_connections", "1"}, {monAppUser, "current_connections", "0"},
		{monAdminUser, "current_client_connections", "1"}, {testenv.ScramUser, "current_client_connections", "0"},
		{monAppUser, "max_user_connections", "0"}, {monAppUser, "pool_size", ""},
	} {
		if got := byName(t, cols, rows, u.name, u.col); got != u.want {
			t.Errorf("SHOW USERS %s %s = %q, want %q", u.name, u.col, got, u.want)
		}
	}
	if got := byName(t, cols, rows, testenv.ScramUser, "current_connections"); got == "0" {
		t.Errorf("SHOW USERS: no server connection as %s: %v", testenv.ScramUser, rows)
	}
	cols, rows = consoleTable(t, ctx, con, "SHOW POOLS")
	if column(cols, rows[0], "database") != e.DB || column(cols, rows[0], "pool_mode") != "transaction" || column(cols, rows[0], "cl_active") != "1" {
		t.Errorf("SHOW POOLS row %v", rows[0])
	}
	cols, rows = consoleTable(t, ctx, con, "SHOW HEALTH")
	if s := column(cols, rows[0], "status"); s != "healthy" {
		t.Errorf("SHOW HEALTH status %q, want healthy: %v", s, rows[0])
	}
	if _, err := con.Exec(ctx, "SHOW NONSENSE"); err == nil || !strings.Contains(err.Error(), "SHOW POOLS") {
		t.Errorf("unknown SHOW: %v", err)
	}
	if _, err := con.Exec(ctx, "RELOAD"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Reloaded:
	default:
		t.Error("RELOAD did not reach the daemon's reload")
	}
	if _, err := con.Exec(ctx, "SHUTDOWN"); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("SHUTDOWN without a daemon control: %v", err)
	}
}

// byName returns column col of the row whose first column is name.
func byName(t *testing.T, cols []string, rows [][]string, name, col string) string {
	t.Helper()
	for _, r := range rows {
		if r[0] == name {
			return column(cols, r, col)
		}
	}
	t.Errorf("no row %s in %v", name, rows)
	return ""
}

// TestMonitorConsoleRemotePID checks that SHOW SERVERS and /api/v1/servers
// show the server process a session-mode client is talking to.
func TestMonitorConsoleRemotePID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := startMonitored(t, "pool_mode=session", time.Minute)
	app := e.connect(t, ctx)
	var pid int
	if err := app.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	cols, rows := consoleTable(t, ctx, con, "SHOW CLIENTS")
	ptr := ""
	for _, r := range rows {
		if column(cols, r, "user") == monAppUser {
			ptr = column(cols, r, "ptr")
		}
	}
	cols, rows = consoleTable(t, ctx, con, "SHOW SERVERS")
	found := false
	for _, r := range rows {
		if column(cols, r, "link") != ptr {
			continue
		}
		found = true
		if got := column(cols, r, "remote_pid"); got != strconv.Itoa(pid) {
			t.Errorf("SHOW SERVERS remote_pid %s, the client's pg_backend_pid() is %d: %v", got, pid, r)
		}
	}
	if !found {
		t.Errorf("SHOW SERVERS has no server linked to client %q: %v", ptr, rows)
	}
	var servers []admin.ServerConn
	e.getJSON(t, "/api/v1/servers", &servers)
	if !slices.ContainsFunc(servers, func(s admin.ServerConn) bool { return int(s.RemotePID) == pid }) {
		t.Errorf("/api/v1/servers has no remote_pid %d: %+v", pid, servers)
	}
}

// TestMonitorConsolePauseResumeKill checks PgBouncer's semantics: PAUSE
// returns once the database's server connections are released, new
// transactions wait until RESUME, and KILL drops the database's clients.
func TestMonitorConsolePauseResumeKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := startMonitored(t, "", time.Minute)
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	holder, other := e.connect(t, ctx), e.connect(t, ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	paused := make(chan error, 1)
	go func() { _, err := con.Exec(ctx, "PAUSE "+e.DB); paused <- err }()
	waitFor(t, ctx, "the pause to take effect", func() bool { return e.Proxy.IsPaused(e.DB) })
	select {
	case err := <-paused:
		t.Fatalf("PAUSE returned (%v) while a transaction held a server connection", err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-paused; err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { _, err := other.Exec(ctx, "SELECT 1"); done <- err }()
	waitFor(t, ctx, "the new transaction to wait", func() bool {
		for _, c := range e.Admin.Clients() {
			if c.State == "waiting" {
				return true
			}
		}
		return false
	})
	cols, rows := consoleTable(t, ctx, con, "SHOW DATABASES")
	if column(cols, rows[0], "paused") != "1" {
		t.Errorf("SHOW DATABASES while paused: %v", rows[0])
	}
	select {
	case err := <-done:
		t.Fatalf("a query ran while paused (err %v)", err)
	default:
	}
	if _, err := con.Exec(ctx, "RESUME "+e.DB); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("query after RESUME: %v", err)
	}
	if _, err := con.Exec(ctx, "RESUME "+e.DB); err == nil {
		t.Error("RESUME of a database that is not paused succeeded")
	}

	if _, err := con.Exec(ctx, "KILL "+e.DB); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("a killed client could still run a query")
	}
	if !e.Proxy.IsPaused(e.DB) {
		t.Error("KILL did not leave the database paused")
	}
	if _, err := con.Exec(ctx, "RESUME"); err != nil {
		t.Fatal(err)
	}
	again := e.connect(t, ctx)
	if _, err := again.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after KILL and RESUME: %v", err)
	}
	if _, err := con.Exec(ctx, "KILL"); err == nil {
		t.Error("KILL without a database succeeded")
	}
}

// TestMonitorHTTPCommands checks that state-changing endpoints need the token.
func TestMonitorHTTPCommands(t *testing.T) {
	e := startMonitored(t, "", time.Minute)
	post := func(path, token string) int {
		req, _ := http.NewRequest("POST", e.HTTP+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/api/v1/pause/"+e.DB, ""); code != http.StatusUnauthorized {
		t.Errorf("pause without token: %d", code)
	}
	if code := post("/api/v1/pause/"+e.DB, "wrong"); code != http.StatusUnauthorized {
		t.Errorf("pause with a wrong token: %d", code)
	}
	if code := post("/api/v1/pause/"+e.DB, monToken); code != http.StatusOK || !e.Proxy.IsPaused(e.DB) {
		t.Errorf("pause with the token: %d, paused %v", code, e.Proxy.IsPaused(e.DB))
	}
	if code := post("/api/v1/resume/"+e.DB, monToken); code != http.StatusOK || e.Proxy.IsPaused(e.DB) {
		t.Errorf("resume: %d", code)
	}
	if code := post("/api/v1/kill/nosuchdb", monToken); code != http.StatusNotFound {
		t.Errorf("kill of an unknown database: %d", code)
	}
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/pools", "/api/v1/clients", "/api/v1/servers", "/api/v1/series/" + e.DB, "/", "/pools/" + e.DB} {
		resp, err := http.Get(e.HTTP + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}
}

// TestMonitorConsolePsql runs SHOW POOLS with psql, the tool operators use.
func TestMonitorConsolePsql(t *testing.T) {
	testenv.Require(t, "psql")
	e := startMonitored(t, "", time.Minute)
	host, port, _ := strings.Cut(e.Addr, ":")
	cmd := exec.Command(testenv.Bin(t, "psql"), "-h", host, "-p", port, "-U", monAdminUser, "-d", "motorpool", "-X", "-A", "-c", "SHOW POOLS")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+monAdminPassword, "PGSSLMODE=disable")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "database|user|cl_active|cl_waiting|") || !strings.Contains(string(out), e.DB+"|") {
		t.Errorf("psql SHOW POOLS:\n%s", out)
	}

	// Aligned, psql right-aligns numbers, as it does PgBouncer's: its
	// columns are typed.
	cmd = exec.Command(testenv.Bin(t, "psql"), "-h", host, "-p", port, "-U", monAdminUser, "-d", "motorpool", "-X", "-c", "SHOW LISTS")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+monAdminPassword, "PGSSLMODE=disable")
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if !slices.ContainsFunc(strings.Split(string(out), "\n"), func(l string) bool {
		return strings.HasPrefix(l, " databases ") && strings.HasSuffix(l, "|     1")
	}) {
		t.Errorf("psql SHOW LISTS does not right-align items:\n%s", out)
	}
}

// TestMonitorConsoleTypes checks the console's column types and NULLs as a
// typed client sees them: counts as integers (int4 as PgBouncer's), totals
// as int8, and NULL where PgBouncer sends NULL (SHOW USERS' pool_mode
// without a per-user override).
func TestMonitorConsoleTypes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := startMonitored(t, "", time.Minute)
	app := e.connect(t, ctx)
	if _, err := app.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	oids := map[string]map[string]uint32{
		"SHOW POOLS":     {"database": pgtype.TextOID, "cl_active": pgtype.Int4OID, "sv_idle": pgtype.Int4OID, "maxwait": pgtype.Int4OID, "maxwait_us": pgtype.Int4OID},
		"SHOW STATS":     {"total_xact_count": pgtype.Int8OID, "avg_wait_time": pgtype.Int8OID},
		"SHOW SERVERS":   {"port": pgtype.Int4OID, "ptr": pgtype.TextOID, "link": pgtype.TextOID, "remote_pid": pgtype.Int4OID},
		"SHOW LISTS":     {"items": pgtype.Int4OID},
		"SHOW DATABASES": {"port": pgtype.Int4OID, "pool_size": pgtype.Int4OID},
	}
	for cmd, want := range oids {
		rows, err := con.Query(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rows.FieldDescriptions() {
			if oid, ok := want[f.Name]; ok && f.DataTypeOID != oid {
				t.Errorf("%s %s has type OID %d, want %d", cmd, f.Name, f.DataTypeOID, oid)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}

	var active, waiting int64
	var maxwait float64
	if err := con.QueryRow(ctx, "SHOW POOLS").Scan(nil, nil, &active, &waiting, nil, nil, nil, nil, nil, nil, nil, nil, nil, &maxwait,
		nil, nil, nil, nil, nil, nil); err != nil {
		t.Fatalf("scanning SHOW POOLS' counts as numbers: %v", err)
	}
	if active != 1 || waiting != 0 {
		t.Errorf("SHOW POOLS cl_active %d cl_waiting %d, want 1 and 0", active, waiting)
	}

	rows, err := con.Query(ctx, "SHOW USERS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := slices.IndexFunc(rows.FieldDescriptions(), func(f pgconn.FieldDescription) bool { return f.Name == "pool_mode" })
	n := 0
	for rows.Next() {
		if v := rows.RawValues()[i]; v != nil {
			t.Errorf("SHOW USERS pool_mode %q, want NULL (no per-user override)", v)
		}
		n++
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("SHOW USERS: %d rows, %v", n, err)
	}
}
