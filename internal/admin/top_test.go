package admin

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/monitor"
)

func TestTopThroughTheAPI(t *testing.T) {
	a, px := newTestAdmin(t, "tok")
	l, err := poolNamed(px, "shop").Core().Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	a.Sample(time.Now(), nil)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	c := &Client{Base: strings.TrimPrefix(srv.URL, "http://"), Token: "tok"}
	reports, err := c.Pools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	WriteTop(&b, "test", reports, time.Now(), false)
	out := b.String()
	for _, want := range []string{"POOL", "STATUS", "ACT/IDLE/MAX", "shop ", "shop/reports", "1/0/4", "healthy"} {
		if !strings.Contains(out, want) {
			t.Errorf("top output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes without colour:\n%q", out)
	}
	b.Reset()
	WriteTop(&b, "test", reports, time.Now(), true)
	if !strings.Contains(b.String(), "\x1b[32mhealthy") {
		t.Errorf("no colour for healthy:\n%q", b.String())
	}
	if _, err := (&Client{Base: srv.URL + "/nope"}).Pools(context.Background()); err == nil {
		t.Error("bad base URL: no error")
	}
}

func TestTopCountsPoolsAndSaysEachRecommendationOnce(t *testing.T) {
	th := monitor.DefaultThresholds()
	recs := monitor.Recommend(monitor.Window{Samples: 60, Utilization: 1}, monitor.Settings{ConnectionLimit: 2}, 0, th)
	report := func(name string) monitor.Report {
		return monitor.Report{Pool: monitor.PoolInfo{Name: name}, Status: monitor.Critical, Recommendations: recs}
	}
	tests := []struct {
		name    string
		reports []monitor.Report
		want    []string
	}{
		{"no pools", nil, []string{"— 0 pools\n"}},
		{"one pool", []monitor.Report{report("shop")}, []string{
			"— 1 pool\n",
			"\n  recommend Update connection_limit parameter to 3 — utilization 1.00, p95 wait 0s, 0.0 clients waiting on average\n",
		}},
		{"two pools", []monitor.Report{report("shop"), report("shop/reports")}, []string{"— 2 pools\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			WriteTop(&b, "test", tt.reports, time.Now(), false)
			out := b.String()
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("top output lacks %q:\n%s", want, out)
				}
			}
			if n, want := strings.Count(out, "connection_limit"), len(tt.reports); n != want {
				t.Errorf("connection_limit named %d times, want %d:\n%s", n, want, out)
			}
		})
	}
}
