package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
)

// ConsoleCommands lists the console's commands, for SHOW HELP and errors.
var ConsoleCommands = []string{
	"SHOW POOLS", "SHOW STATS", "SHOW STATS_TOTALS", "SHOW STATS_AVERAGES", "SHOW TOTALS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW USERS", "SHOW DATABASES",
	"SHOW LISTS", "SHOW CONFIG", "SHOW VERSION", "SHOW HEALTH", "SHOW ALERTS", "SHOW RECOMMENDATIONS",
	"SHOW DIAGNOSIS", "SHOW SCALING", "SHOW BUDGETS", "SHOW HELP",
	"PAUSE [db]", "RESUME [db]", "KILL db", "DISABLE db", "ENABLE db", "RECONNECT [db]", "WAIT_CLOSE [db]",
	"RELOAD", "SHUTDOWN",
}

// Exec implements proxy.Console: it runs one admin console command. Keywords
// are case-insensitive; a database name may be double-quoted. Column types
// follow PgBouncer's where it has the column (integer for counts, ports and
// flags), so that psql aligns numbers and typed clients scan them as numbers;
// a table without rows has text columns.
func (a *Admin) Exec(ctx context.Context, user, command string) (*proxy.ConsoleResult, error) {
	res, _, err := a.exec(ctx, user, command)
	return res, err
}

// exec runs a command: a result, and the table it was made of if it has one.
func (a *Admin) exec(ctx context.Context, user, command string) (*proxy.ConsoleResult, *table, error) {
	words, err := commandWords(command)
	if err != nil {
		return nil, nil, err
	}
	if len(words) == 0 {
		return nil, nil, fmt.Errorf("empty command")
	}
	verb, args := strings.ToUpper(words[0]), words[1:]
	if verb != "SHOW" && a.statsOnly(user) {
		return nil, nil, fmt.Errorf("%s needs an admin user: %s is in admin.stats_users, which may run SHOW commands only", verb, user)
	}
	switch verb {
	case "SHOW":
		if len(args) != 1 {
			return nil, nil, fmt.Errorf("SHOW takes one word: SHOW POOLS, SHOW STATS, … (SHOW HELP lists them)")
		}
		return a.show(strings.ToUpper(args[0]))
	case "PAUSE", "RESUME", "KILL", "DISABLE", "ENABLE", "RECONNECT", "WAIT_CLOSE":
		res, err := a.dbCommand(ctx, user, verb, args)
		return res, nil, err
	case "RELOAD", "SHUTDOWN":
		if len(args) != 0 {
			return nil, nil, fmt.Errorf("%s takes no argument", verb)
		}
		res, err := a.control(user, verb)
		return res, nil, err
	}
	if why, ok := unsupportedCommands[verb]; ok {
		return nil, nil, fmt.Errorf("%s is not supported: %s", verb, why)
	}
	return nil, nil, fmt.Errorf("unknown command %q; the console knows %s", words[0], strings.Join(ConsoleCommands, ", "))
}

// statsOnly reports whether user may only look: one of admin.stats_users and not of
// admin.users.
func (a *Admin) statsOnly(user string) bool {
	cfg := a.px.Config()
	return slices.Contains(cfg.Admin.StatsUsers, user) && !slices.Contains(cfg.Admin.Users, user)
}

// unsupportedShow says why PgBouncer's SHOW commands motorpool has no
// counterpart for are refused, and where to look instead.
var unsupportedShow = map[string]string{
	"MEM":            "motorpool has no slab caches; /metrics has the process's memory (go_memstats_*, process_resident_memory_bytes)",
	"FDS":            "it serves PgBouncer's online restart (-R), which motorpool does not do; /metrics has process_open_fds",
	"SOCKETS":        "motorpool has no per-socket buffers to show; SHOW CLIENTS and SHOW SERVERS list the connections",
	"ACTIVE_SOCKETS": "motorpool has no per-socket buffers to show; SHOW CLIENTS and SHOW SERVERS list the connections",
	"DNS_HOSTS":      "motorpool keeps no DNS cache: it resolves a database's host at each dial",
	"DNS_ZONES":      "motorpool keeps no DNS cache: it resolves a database's host at each dial",
}

// unsupportedCommands says why PgBouncer's commands motorpool has no
// counterpart for are refused.
var unsupportedCommands = map[string]string{
	"SUSPEND": "it serves PgBouncer's online restart (-R), which motorpool does not do; PAUSE stops new transactions",
	"SET":     "settings come from the configuration file: edit it and RELOAD",
}

// show runs SHOW what.
func (a *Admin) show(what string) (*proxy.ConsoleResult, *table, error) {
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
	case "SCALING":
		t = a.showScaling()
	case "BUDGETS":
		t = a.showBudgets()
	case "HELP":
		t = newTable("command")
		for _, c := range ConsoleCommands {
			t.add(c)
		}
	default:
		if why, ok := unsupportedShow[what]; ok {
			return nil, nil, fmt.Errorf("SHOW %s is not supported: %s", what, why)
		}
		return nil, nil, fmt.Errorf("unknown SHOW %s; the console knows %s", what, strings.Join(ConsoleCommands, ", "))
	}
	types := make([]string, len(t.types))
	for i, k := range t.types {
		types[i] = k.String()
	}
	return &proxy.ConsoleResult{Columns: t.cols, Types: types, Rows: t.rows, Nulls: t.nulls, Tag: "SHOW"}, t, nil
}

// commandWords splits a console command into words at white space. A word in
// double quotes may hold spaces, and "" in it stands for one ", as in SQL
// identifiers: PAUSE "my db".
func commandWords(command string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(command); i++ {
		c := command[i]
		switch {
		case quoted && c == '"' && i+1 < len(command) && command[i+1] == '"':
			word.WriteByte('"')
			i++
		case c == '"':
			quoted, inWord = !quoted, true
		case !quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("a quoted name has no closing \"")
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// noDatabaseError is dbCommand's error for a database the configuration does
// not have (and, for RESUME, that is not paused either): the HTTP API answers
// it with 404.
type noDatabaseError struct{ db string }

func (e noDatabaseError) Error() string { return "no such database: " + e.db }

// dbUsage is each database command's usage; those ending in "[db]" may
// omit the database.
var dbUsage = map[string]string{
	"PAUSE": "PAUSE [db]", "RESUME": "RESUME [db]", "KILL": "KILL db", "DISABLE": "DISABLE db", "ENABLE": "ENABLE db",
	"RECONNECT": "RECONNECT [db]", "WAIT_CLOSE": "WAIT_CLOSE [db]",
}

// dbCommand runs PAUSE [db], RESUME [db], KILL db, DISABLE db, ENABLE db,
// RECONNECT [db] and WAIT_CLOSE [db].
func (a *Admin) dbCommand(ctx context.Context, user, verb string, args []string) (*proxy.ConsoleResult, error) {
	usage := dbUsage[verb]
	if len(args) > 1 || len(args) == 0 && !strings.HasSuffix(usage, "[db]") {
		return nil, fmt.Errorf("usage: %s", usage)
	}
	db := ""
	if len(args) == 1 {
		db = args[0]
	}
	// A database a reload removed while paused can still be resumed.
	if db != "" && a.px.Config().Database(db) == nil && !(verb == "RESUME" && slices.Contains(a.px.Paused(), db)) {
		return nil, noDatabaseError{db}
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
	case "DISABLE":
		err = a.px.Disable(db)
	case "ENABLE":
		a.px.Enable(db)
	case "RECONNECT":
		err = a.px.Reconnect(db)
	case "WAIT_CLOSE":
		err = a.px.WaitClose(ctx, db)
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
	cols  []string
	types []sqlType // per column: that of its first value that is not NULL
	rows  [][]string
	nulls [][]bool // per row, which cells are NULL; nil when none is
}

func newTable(cols ...string) *table { return &table{cols: cols, types: make([]sqlType, len(cols))} }

// sqlType is a column's type, as proxy.ConsoleResult names it.
type sqlType uint8

const (
	typeUnset sqlType = iota // no value yet: text
	typeText
	typeInteger
	typeBigint
	typeNumeric
)

func (k sqlType) String() string {
	switch k {
	case typeInteger:
		return "integer"
	case typeBigint:
		return "bigint"
	case typeNumeric:
		return "numeric"
	}
	return "text"
}

// add appends a row, formatting each value: times as PgBouncer does, floats
// with up to 3 decimals, bools as 1 or 0, everything else with %v. nil, a
// zero time and a nil *time.Time are NULL. A value's Go type sets its
// column's type: int, int32, uint32 and bool are integer (PgBouncer's counts
// and flags are int4); int64, uint64 bigint; floats numeric; the rest text,
// with control characters other than newline and tab, and bytes that are not
// UTF-8, escaped (see printable). A column given values of two types is text.
func (t *table) add(vals ...any) {
	row := make([]string, len(vals))
	var nulls []bool
	for i, v := range vals {
		s, k := cell(v)
		if k == typeUnset {
			if nulls == nil {
				nulls = make([]bool, len(vals))
			}
			nulls[i] = true
			continue
		}
		row[i] = s
		switch t.types[i] {
		case typeUnset:
			t.types[i] = k
		case k:
		default:
			t.types[i] = typeText
		}
	}
	t.rows = append(t.rows, row)
	t.nulls = append(t.nulls, nulls)
}

// cell formats v and returns its type; typeUnset for NULL.
func cell(v any) (string, sqlType) {
	switch x := v.(type) {
	case nil:
		return "", typeUnset
	case time.Time:
		if x.IsZero() {
			return "", typeUnset
		}
		return x.UTC().Format("2006-01-02 15:04:05 UTC"), typeText
	case *time.Time:
		if x == nil {
			return "", typeUnset
		}
		return cell(*x)
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", x), "0"), "."), typeNumeric
	case bool:
		if x {
			return "1", typeInteger
		}
		return "0", typeInteger
	case int, int32, uint32:
		return fmt.Sprint(v), typeInteger
	case int64, uint64:
		return fmt.Sprint(v), typeBigint
	}
	// Text holds names clients choose (user, application_name, a per-user
	// pool's name), shown by psql as they are: a client's escape sequence would
	// reach the operator's terminal.
	return escapeControls(fmt.Sprint(v), "\n\t"), typeText
}
