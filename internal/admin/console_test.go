package admin

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConsoleTypesAndNulls checks Exec's column types and NULLs: columns typed as PgBouncer's
// (integer counts, bigint totals, numeric fractions, text pointers) and NULL
// where a value is absent, as PgBouncer sends it (SHOW USERS' pool_mode) or
// for motorpool's own columns; empty where PgBouncer sends an empty string
// (SHOW SERVERS' link).
func TestConsoleTypesAndNulls(t *testing.T) {
	a, px := newTestAdmin(t, "")
	shop := poolNamed(px, "shop")
	l, err := shop.Core().AcquireAs(context.Background(), "client 7 127.0.0.1:5555")
	if err != nil {
		t.Fatal(err)
	}
	idle, err := shop.Core().Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	idle.Release()
	held := true
	defer func() {
		if held {
			l.Release()
		}
	}()
	a.Sample(time.Now(), nil)

	type cell struct {
		typ  string
		null bool
		text string // when not NULL; "*" for any
	}
	tests := []struct {
		cmd   string
		key   string // first column's value of the row checked
		cells map[string]cell
	}{
		{"SHOW POOLS", "shop", map[string]cell{
			"database": {"text", false, "shop"}, "cl_active": {"integer", false, "0"}, "sv_active": {"integer", false, "1"},
			"sv_idle": {"integer", false, "1"}, "maxwait": {"integer", false, "0"}, "maxwait_us": {"integer", false, "0"},
			"pool_size": {"integer", false, "4"}, "service": {"text", true, ""},
		}},
		{"SHOW USERS", "app", map[string]cell{
			"pool_size": {"text", false, ""}, "pool_mode": {"text", true, ""}, "current_connections": {"integer", false, "2"},
		}},
		{"SHOW STATS", "shop", map[string]cell{"total_xact_count": {"bigint", false, "0"}, "avg_wait_time": {"bigint", false, "*"}}},
		{"SHOW LISTS", "pools", map[string]cell{"items": {"integer", false, "2"}}},
		{"SHOW DATABASES", "shop", map[string]cell{
			"host": {"text", false, "127.0.0.1"}, "port": {"integer", false, "1"}, "pool_size": {"integer", false, "4"},
			"paused": {"integer", false, "0"},
		}},
		{"SHOW HEALTH", "shop", map[string]cell{"utilization": {"numeric", false, "*"}, "waiting": {"integer", false, "0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			res, err := a.Exec(context.Background(), "app", tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			types, nulls := res.Types, res.Nulls
			if len(types) != len(res.Columns) || len(nulls) != len(res.Rows) {
				t.Fatalf("%d types for %d columns, %d nulls for %d rows", len(types), len(res.Columns), len(nulls), len(res.Rows))
			}
			r := slices.IndexFunc(res.Rows, func(row []string) bool { return row[0] == tt.key })
			if r < 0 {
				t.Fatalf("no row %s in %v", tt.key, res.Rows)
			}
			for col, want := range tt.cells {
				i := slices.Index(res.Columns, col)
				if i < 0 {
					t.Errorf("no column %s", col)
					continue
				}
				null := nulls[r] != nil && nulls[r][i]
				if types[i] != want.typ || null != want.null || !null && want.text != "*" && res.Rows[r][i] != want.text {
					t.Errorf("%s: %s %q NULL %v, want %s %q NULL %v", col, types[i], res.Rows[r][i], null, want.typ, want.text, want.null)
				}
			}
		})
	}

	res, err := a.Exec(context.Background(), "app", "SHOW SERVERS")
	if err != nil {
		t.Fatal(err)
	}
	types, nulls := res.Types, res.Nulls
	col := func(name string) int { return slices.Index(res.Columns, name) }
	for _, name := range []string{"ptr", "link"} {
		if types[col(name)] != "text" {
			t.Errorf("%s is %s, PgBouncer's is text", name, types[col(name)])
		}
	}
	for _, name := range []string{"port", "remote_pid"} {
		if types[col(name)] != "integer" {
			t.Errorf("%s is %s, want integer", name, types[col(name)])
		}
	}
	unreported := []int{col("local_addr"), col("local_port"), col("tls")}
	for r, row := range res.Rows {
		want := map[string]string{"active": "7", "idle": ""}[row[col("state")]]
		var null []int
		for i, n := range nulls[r] {
			if n {
				null = append(null, i)
			}
		}
		if row[col("link")] != want || !slices.Equal(null, unreported) {
			t.Errorf("%s server: link %q, NULL columns %v; want %q and only local_addr, local_port and tls %v", row[col("state")], row[col("link")], null, want, unreported)
		}
	}

	// Commands without a table have no types. PAUSE waits for the lease.
	l.Release()
	held = false
	if res, err := a.Exec(context.Background(), "app", "PAUSE shop"); err != nil || res.Tag != "PAUSE" || res.Types != nil || res.Nulls != nil {
		t.Errorf("PAUSE: %+v %v", res, err)
	}
	if _, err := a.Exec(context.Background(), "app", "SHOW NOTHING"); err == nil {
		t.Error("SHOW NOTHING succeeded")
	}
}

// TestConsoleUnsupportedShow checks that PgBouncer's SHOW MEM and SHOW FDS,
// which motorpool has no counterpart for, are refused as such, not as
// unknown commands.
func TestConsoleUnsupportedShow(t *testing.T) {
	a, _ := newTestAdmin(t, "")
	for _, cmd := range []string{"SHOW MEM", "show fds"} {
		_, err := a.Exec(context.Background(), "app", cmd)
		if err == nil || !strings.Contains(err.Error(), "not supported") || strings.Contains(err.Error(), "unknown") {
			t.Errorf("%s: %v, want it refused as not supported", cmd, err)
		}
	}
}
