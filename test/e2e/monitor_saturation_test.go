package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/monitor"
)

// TestMonitorSaturation saturates a pool of 2 with 20 clients running
// pg_sleep: the pool turns critical, raises a pool-exhaustion alert,
// recommends a larger connection_limit and diagnoses a pool too small; once
// the load stops, the alert resolves. The monitor judges a 20-second window
// (the default is a minute) to keep the test short.
func TestMonitorSaturation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := startMonitored(t, "pool_timeout=2", 20*time.Second)
	start := time.Now()
	stop := e.load(t, ctx, 20, "SELECT pg_sleep(0.5)")
	loaded := time.Now()
	t.Logf("20 clients connected in %v; load running", loaded.Sub(start).Round(time.Millisecond))

	seen := map[monitor.Status]time.Duration{}
	var r monitor.Report
	waitFor(t, ctx, "critical with pool_exhaustion and a connection_limit recommendation", func() bool {
		r = e.report(t)
		if _, ok := seen[r.Status]; !ok {
			seen[r.Status] = time.Since(loaded)
			t.Logf("+%v status %s: %s", time.Since(loaded).Round(time.Millisecond), r.Status, r.StatusReason)
		}
		return r.Status == monitor.Critical && firing(r, monitor.PoolExhaustion) && recommends(r, "connection_limit", "3")
	})
	t.Logf("+%v critical; alerts: %s", time.Since(loaded).Round(time.Millisecond), alertSummary(r.Alerts))
	for _, rec := range r.Recommendations {
		t.Logf("recommendation: %s (%s)", rec.Implementation, rec.Evidence)
	}
	if len(r.Diagnosis) == 0 || r.Diagnosis[0].Cause != monitor.PoolTooSmall {
		t.Errorf("diagnosis %+v, want pool_too_small first", r.Diagnosis)
	} else {
		t.Logf("diagnosis: %s — %s", r.Diagnosis[0].Summary, r.Diagnosis[0].Evidence)
	}
	if r.Current.Max != 2 || r.Current.Active != 2 || r.Current.Waiting < 10 {
		t.Errorf("current %+v: want 2 of 2 active and most clients waiting", r.Current)
	}
	// What motorpool top shows, through the same API.
	reports, err := (&admin.Client{Base: e.HTTP}).Pools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var top strings.Builder
	admin.WriteTop(&top, e.HTTP, reports, time.Now(), false)
	t.Logf("motorpool top:\n%s", top.String())
	if !strings.Contains(top.String(), "critical") || !strings.Contains(top.String(), "pool_exhaustion") {
		t.Errorf("top does not show the critical pool")
	}
	metrics := scrape(t, e)
	for _, want := range []string{
		`motorpool_pool_alert_firing{database="` + e.DB + `",mode="transaction",pool="` + e.DB + `",reason="pool_exhaustion",service="",user="scram_user"} 1`,
		`motorpool_pool_health_status{database="` + e.DB + `",mode="transaction",pool="` + e.DB + `",service="",user="scram_user"} 3`,
		`motorpool_pool_utilization_ratio{database="` + e.DB + `",mode="transaction",pool="` + e.DB + `",service="",user="scram_user"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(metrics, "motorpool_pool_acquire_timeouts_total{") || strings.Contains(metrics, "motorpool_pool_acquire_timeouts_total{database=\""+e.DB+"\",mode=\"transaction\",pool=\""+e.DB+"\",service=\"\",user=\"scram_user\"} 0\n") {
		t.Errorf("no acquire timeouts counted")
	}

	stop()
	stopped := time.Now()
	t.Logf("load stopped after %v", stopped.Sub(loaded).Round(time.Millisecond))
	waitFor(t, ctx, "the pool_exhaustion alert to resolve", func() bool {
		r = e.report(t)
		return !firing(r, monitor.PoolExhaustion) && resolvedAlert(r, monitor.PoolExhaustion) != nil
	})
	a := resolvedAlert(r, monitor.PoolExhaustion)
	t.Logf("+%v after the load stopped: pool_exhaustion resolved (fired %s, resolved %s); status %s (%s)",
		time.Since(stopped).Round(time.Millisecond), a.FiredAt.Format(time.TimeOnly), a.ResolvedAt.Format(time.TimeOnly), r.Status, r.StatusReason)
	if !a.ResolvedAt.After(a.FiredAt) {
		t.Errorf("resolved %v before fired %v", a.ResolvedAt, a.FiredAt)
	}
	waitFor(t, ctx, "the pool to be healthy again", func() bool { r = e.report(t); return r.Status == monitor.Healthy })
	t.Logf("+%v after the load stopped: healthy; states seen under load: %v", time.Since(stopped).Round(time.Millisecond), seen)
}

func firing(r monitor.Report, typ monitor.AlertType) bool {
	for _, a := range r.Alerts {
		if a.Type == typ {
			return true
		}
	}
	return false
}

func resolvedAlert(r monitor.Report, typ monitor.AlertType) *monitor.Alert {
	for i, a := range r.ResolvedAlerts {
		if a.Type == typ {
			return &r.ResolvedAlerts[i]
		}
	}
	return nil
}

func recommends(r monitor.Report, setting, value string) bool {
	for _, rec := range r.Recommendations {
		if rec.Setting == setting && rec.Suggested == value {
			return true
		}
	}
	return false
}

func alertSummary(as []monitor.Alert) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, string(a.Type)+" ("+a.Message+")")
	}
	return strings.Join(parts, ", ")
}

func scrape(t *testing.T, e *monEnv) string {
	t.Helper()
	resp, err := http.Get(e.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
