package e2e

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/motorpool/motorpool/internal/testenv"
)

// asyncpgReset is what asyncpg's pool (asyncpg 0.27, Connection.reset) sends on a
// connection it takes back, in one simple query.
const asyncpgReset = "SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;"

// showSettings reads the settings the scenarios below change.
const showSettings = "SELECT current_setting('search_path') || '|' || current_setting('statement_timeout') || '|' || current_setting('work_mem')"

// frameworkScenarios are queries of several statements that frameworks send to
// change or reset a session's settings; another client shares the server connection
// between them.
var frameworkScenarios = []struct {
	name  string
	steps []driverStep
}{
	{"asyncpg's pool resets the settings of a connection it takes back", []driverStep{
		{0, round{query("SET search_path = fw_other, public")}},
		{0, round{query("SET statement_timeout = 1234")}},
		{1, round{query("SELECT 1")}},
		{0, round{query(asyncpgReset)}},
		{1, round{query(showSettings)}},
		{0, round{query(showSettings)}},
	}},
	{"settings changed together in one query follow the client", []driverStep{
		{0, round{query("SELECT 1; SET statement_timeout = 4321; SET work_mem = '3MB'")}},
		{1, round{query(showSettings)}},
		{0, round{query(showSettings)}},
		{0, round{query("RESET ALL; SET search_path = fw_other, public")}},
		{1, round{query(showSettings)}},
		{0, round{query(showSettings)}},
	}},
	{"settings of a query that fails are rolled back with it", []driverStep{
		{0, round{query("SET work_mem = '5MB'")}},
		{0, round{query("SET statement_timeout = 999; RESET work_mem; SELECT 1/0")}},
		{1, round{query(showSettings)}},
		{0, round{query(showSettings)}},
	}},
	// PostgreSQL refuses to prepare a query of several statements, but motorpool reads
	// the client's pipeline before the server answers it.
	{"a prepared statement of several SETs, bound and executed many times in one pipeline", []driverStep{
		{0, round{parse("s", "SET work_mem = '5MB'; SET statement_timeout = 5"),
			bind("s"), execute(0), bind("s"), execute(0), bind("s"), execute(0), bind("s"), execute(0), syncMsg()}},
		{0, round{parse("", "SET work_mem = '6MB'; RESET ALL"), bind(""), execute(0), bind(""), execute(0),
			bind(""), execute(0), syncMsg()}},
		{0, round{query(showSettings)}},
	}},
}

// TestFrameworkSettingsInOneQueryMatchPostgreSQL runs each scenario straight against
// PostgreSQL, then through motorpool in transaction mode on a pool of one server
// connection, and requires the same answers: asyncpg's pool, whose reset is one query
// of four statements ending in RESET ALL, got the settings of the connection's
// previous user back (and a warning) through motorpool.
func TestFrameworkSettingsInOneQueryMatchPostgreSQL(t *testing.T) {
	t.Parallel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	run := func(t *testing.T, addr string, steps []driverStep) [][]string {
		clients := map[int]*rawClient{}
		var out [][]string
		for _, s := range steps {
			c := clients[s.client]
			if c == nil {
				c = dialRaw(t, addr, testenv.TrustUser, db, nil)
				clients[s.client] = c
			}
			out = append(out, c.round(t, s.msgs...))
		}
		for _, c := range clients {
			c.conn.Close()
		}
		return out
	}
	e := start(t, protocolSetup(p, db))
	for _, sc := range frameworkScenarios {
		t.Run(sc.name, func(t *testing.T) {
			want := run(t, net.JoinHostPort(p.Host, strconv.Itoa(p.Port)), sc.steps)
			got := run(t, e.Addr, sc.steps)
			for j := range got {
				if !slices.Equal(got[j], want[j]) {
					t.Fatalf("step %d (client %d): motorpool answered\n\t%s\nPostgreSQL answers\n\t%s",
						j+1, sc.steps[j].client, strings.Join(got[j], "\n\t"), strings.Join(want[j], "\n\t"))
				}
			}
		})
	}
}
