package e2e

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

// TestMonitorConsolePgBouncerExporter scrapes the console as
// prometheus-community/pgbouncer_exporter does, through lib/pq: it reports
// the scrape failed when SHOW VERSION has another column than version, SHOW
// LISTS other than two, SHOW CONFIG other than three or four, or when SHOW
// DATABASES, SHOW STATS_TOTALS or SHOW POOLS fail; and it drops a value that
// does not parse as a number.
func TestMonitorConsolePgBouncerExporter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := startMonitored(t, "", time.Minute)
	app := e.connect(t, ctx)
	if _, err := app.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	e.Admin.Sample(time.Now(), nil)

	db, err := sql.Open("postgres", e.dsn(monAdminUser, monAdminPassword, "pgbouncer"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	columnCounts := map[string][]int{"SHOW VERSION;": {1}, "SHOW LISTS;": {2}, "SHOW CONFIG;": {3, 4}}
	numeric := map[string][]string{
		"SHOW databases;":    {"pool_size", "max_connections", "current_connections", "paused", "disabled"},
		"SHOW stats_totals;": {"xact_count", "query_count", "bytes_received", "bytes_sent", "xact_time", "query_time", "wait_time"},
		"SHOW pools;":        {"cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait"},
		"SHOW LISTS;":        {"items"},
	}
	for _, q := range []string{"SHOW VERSION;", "SHOW LISTS;", "SHOW CONFIG;", "SHOW databases;", "SHOW stats_totals;", "SHOW pools;"} {
		t.Run(q, func(t *testing.T) {
			rows, err := db.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := columnCounts[q]; ok && !slices.Contains(want, len(cols)) {
				t.Errorf("%d columns %v, the exporter takes %v", len(cols), cols, want)
			}
			if q == "SHOW VERSION;" && cols[0] != "version" {
				t.Errorf("SHOW VERSION column %q, want version", cols[0])
			}
			n := 0
			for rows.Next() {
				n++
				vals := make([]sql.RawBytes, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for _, name := range numeric[q] {
					i := slices.Index(cols, name)
					if i < 0 {
						t.Errorf("no column %s in %v", name, cols)
						continue
					}
					if _, err := strconv.ParseFloat(string(vals[i]), 64); err != nil {
						t.Errorf("%s = %q is not a number", name, vals[i])
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Error("no rows")
			}
		})
	}
}
