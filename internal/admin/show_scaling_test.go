package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/proxy"
)

// TestShowScaling: SHOW SCALING and /api/v1/scaling list the scaling decisions
// with their reasons, and nothing before there is one.
func TestShowScaling(t *testing.T) {
	a, px := newTestAdminYAML(t, "", `
auth: { users: { app: { password: x } } }
admin: { users: [app] }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=4" }
scaling:
  rules:
    - { trigger: high_utilization, below: 0.3, action: scale_down, step: 2 }
`)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	get := func() []proxy.ScalingEvent {
		t.Helper()
		resp, err := http.Get(srv.URL + "/api/v1/scaling")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ev []proxy.ScalingEvent
		if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /api/v1/scaling: %d, %v", resp.StatusCode, err)
		}
		return ev
	}
	if ev := get(); ev == nil || len(ev) != 0 {
		t.Errorf("before any decision: %#v, want []", ev)
	}
	if body := getBody(t, srv.URL+"/partials/conns/shop"); !strings.Contains(body, "No decision yet") {
		t.Errorf("the pool page before any decision:\n%s", body)
	}
	res, err := a.Exec(context.Background(), "app", "show scaling")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 0 {
		t.Errorf("before any decision: %v", res.Rows)
	}

	// Rounds a day ahead of the clock, so that the proxy's own are skipped.
	at := time.Now().Add(24 * time.Hour)
	for i := range 11 {
		px.Scale(at.Add(time.Duration(i) * time.Second))
	}
	decided := at.Add(10 * time.Second)
	why := "utilization 0.00 < 0.30 (scaling.rules[0]): 4 → 2"

	res, err = a.Exec(context.Background(), "app", "SHOW SCALING")
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"time", "pool", "bound", "from", "to", "reason"}
	wantRow := []string{decided.UTC().Format("2006-01-02 15:04:05 UTC"), "shop", "max", "4", "2", why}
	if len(res.Rows) != 1 || !slices.Equal(res.Columns, wantCols) || !slices.Equal(res.Rows[0], wantRow) {
		t.Errorf("SHOW SCALING: %v %v; want %v %v", res.Columns, res.Rows, wantCols, [][]string{wantRow})
	}
	if want := []string{"text", "text", "text", "integer", "integer", "text"}; !slices.Equal(res.Types, want) {
		t.Errorf("SHOW SCALING types %v, want %v", res.Types, want)
	}
	for _, path := range []string{"/partials/conns/shop", "/pools/shop"} {
		if body := getBody(t, srv.URL+path); !strings.Contains(body, "max 4 → 2") || !strings.Contains(body, "utilization 0.00 &lt; 0.30") {
			t.Errorf("%s does not show the decision:\n%s", path, body)
		}
	}
	ev := get()
	if len(ev) != 1 || ev[0].Pool != "shop" || ev[0].Bound != "max" || ev[0].From != 4 || ev[0].To != 2 ||
		ev[0].Reason != why || !ev[0].Time.Equal(decided) {
		t.Errorf("GET /api/v1/scaling: %+v", ev)
	}
}

// TestDashboardScalingOff: a pool's page says when scaling is off.
func TestDashboardScalingOff(t *testing.T) {
	a, _ := newTestAdmin(t, "")
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	if body := getBody(t, srv.URL+"/partials/conns/shop"); !strings.Contains(body, "Scaling is off") {
		t.Errorf("the pool page:\n%s", body)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return string(b)
}
