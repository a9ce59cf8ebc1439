package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
)

// ConsoleCommands lists the console's commands, for SHOW HELP and errors.
var ConsoleCommands = []string{
	"SHOW POOLS", "SHOW STATS", "SHOW STATS_TOTALS", "SHOW STATS_AVERAGES", "SHOW TOTALS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW USERS", "SHOW DATABASES",
	"SHOW LISTS", "SHOW CONFIG", "SHOW VERSION", "SHOW HEALTH", "SHOW ALERTS", "SHOW RECOMMENDATIONS",
	"SHOW DIAGNOSIS", "SHOW HELP",
	"PAUSE [db]", "RESUME [db]", "KILL db", "RELOAD", "SHUTDOWN",
}

// Exec implements proxy.Console: it runs one admin console command. Keywords
// are case-insensitive; a database name may be double-quoted.
func (a *Admin) Exec(ctx context.Context, user, command string) (*proxy.ConsoleResult, error) {
	words := strings.Fields(strings.TrimSpace(command))
	if len(words) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	verb, args := strings.ToUpper(words[0]), words[1:]
	for i := range args {
		args[i] = strings.Trim(args[i], `"`)
	}
	switch verb {
	case "SHOW":
		if len(args) != 1 {
			return nil, fmt.Errorf("SHOW takes one word: SHOW POOLS, SHOW STATS, … (SHOW HELP lists them)")
		}
		return a.show(strings.ToUpper(args[0]))
	case "PAUSE", "RESUME", "KILL":
		return a.dbCommand(ctx, user, verb, args)
	case "RELOAD", "SHUTDOWN":
		if len(args) != 0 {
			return nil, fmt.Errorf("%s takes no argument", verb)
		}
		return a.control(user, verb)
	}
	return nil, fmt.Errorf("unknown command %q; the console knows %s", words[0], strings.Join(ConsoleCommands, ", "))
}

// show runs SHOW what.
func (a *Admin) show(what string) (*proxy.ConsoleResult, error) {
	var t *table
	switch what {
	case "POOLS":
		t = a.showPools()
	case "STATS":
		t = a.showStats()
	case "STATS_TOTALS":
		t = a.showStatsTotals()
	case "STATS_AVERAGES":
		t = a.showStatsAverages()
	case "TOTALS":
		t = a.showTotals()
	case "CLIENTS":
		t = a.showClients()
	case "SERVERS":
		t = a.showServers()
	case "USERS":
		t = a.showUsers()
	case "DATABASES":
		t = a.showDatabases()
	case "LISTS":
		t = a.showLists()
	case "CONFIG":
		t = a.showConfig()
	case "VERSION":
		t = newTable("version")
		t.add("motorpool " + a.version)
	case "HEALTH":
		t = a.showHealth()
	case "ALERTS":
		t = a.showAlerts()
	case "RECOMMENDATIONS":
		t = a.showRecommendations()
	case "DIAGNOSIS":
		t = a.showDiagnosis()
	case "HELP":
		t = newTable("command")
		for _, c := range ConsoleCommands {
			t.add(c)
		}
	default:
		return nil, fmt.Errorf("unknown SHOW %s; the console knows %s", what, strings.Join(ConsoleCommands, ", "))
	}
	return &proxy.ConsoleResult{Columns: t.cols, Rows: t.rows, Tag: "SHOW"}, nil
}

// dbCommand runs PAUSE [db], RESUME [db] and KILL db.
func (a *Admin) dbCommand(ctx context.Context, user, verb string, args []string) (*proxy.ConsoleResult, error) {
	if len(args) > 1 || verb == "KILL" && len(args) != 1 {
		return nil, fmt.Errorf("usage: %s", map[string]string{"PAUSE": "PAUSE [db]", "RESUME": "RESUME [db]", "KILL": "KILL db"}[verb])
	}
	db := ""
	if len(args) == 1 {
		db = args[0]
	}
	var err error
	switch verb {
	case "PAUSE":
		err = a.px.Pause(ctx, db)
	case "RESUME":
		err = a.px.Resume(db)
	case "KILL":
		var n int
		n, err = a.px.Kill(db)
		a.log.Info("database killed", "by", user, "database", db, "clients", n)
	}
	if err != nil {
		return nil, err
	}
	a.log.Info("admin command", "by", user, "command", verb, "database", db)
	return &proxy.ConsoleResult{Tag: verb}, nil
}

// control runs RELOAD and SHUTDOWN through the daemon's controls.
func (a *Admin) control(user, verb string) (*proxy.ConsoleResult, error) {
	a.log.Info("admin command", "by", user, "command", verb)
	switch verb {
	case "RELOAD":
		if a.controls.Reload == nil {
			return nil, fmt.Errorf("RELOAD is not supported here")
		}
		if err := a.controls.Reload(); err != nil {
			return nil, fmt.Errorf("reload failed: %w", err)
		}
	case "SHUTDOWN":
		if a.controls.Shutdown == nil {
			return nil, fmt.Errorf("SHUTDOWN is not supported here")
		}
		a.controls.Shutdown()
	}
	return &proxy.ConsoleResult{Tag: verb}, nil
}

// table is a console result under construction.
type table struct {
	cols []string
	rows [][]string
}

func newTable(cols ...string) *table { return &table{cols: cols} }

// add appends a row, formatting each value: times as PgBouncer does, floats
// with up to 3 decimals, everything else with %v.
func (t *table) add(vals ...any) {
	row := make([]string, len(vals))
	for i, v := range vals {
		row[i] = cell(v)
	}
	t.rows = append(t.rows, row)
}

func cell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if x == nil {
			return ""
		}
		return cell(*x)
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", x), "0"), ".")
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}
