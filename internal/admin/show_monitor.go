package admin

import "strings"

// showHealth lists each pool's health status, why, the measures it rests on
// (over the last minute) and the first cause the diagnosis found.
func (a *Admin) showHealth() *table {
	t := newTable("pool", "database", "status", "reason", "utilization", "waiting", "acquire_mean_ms",
		"acquire_p95_ms", "error_rate", "xact_per_second", "diagnosis")
	for _, p := range a.sortedPools() {
		r := a.report(p)
		var diag any // NULL: nothing found
		if len(r.Diagnosis) > 0 {
			diag = string(r.Diagnosis[0].Cause) + ": " + r.Diagnosis[0].Summary
		}
		perf := r.Performance
		t.add(p.Name, p.Database, string(r.Status), r.StatusReason, r.Windows["1m"].Utilization, r.Current.Waiting,
			ms(perf.AcquireMean.Std().Seconds()), ms(perf.AcquireP95.Std().Seconds()), perf.ErrorRate, perf.Throughput, diag)
	}
	return t
}

func ms(secs float64) float64 { return secs * 1000 }

// showAlerts lists firing alerts, then those resolved recently; a firing
// alert's resolved_at is NULL.
func (a *Admin) showAlerts() *table {
	t := newTable("pool", "type", "level", "state", "message", "recommendation", "fired_at", "resolved_at")
	for _, p := range a.sortedPools() {
		r := a.report(p)
		for _, al := range r.Alerts {
			t.add(p.Name, string(al.Type), string(al.Level), "firing", al.Message, orNull(al.Recommendation), al.FiredAt, al.ResolvedAt)
		}
		for _, al := range r.ResolvedAlerts {
			t.add(p.Name, string(al.Type), string(al.Level), "resolved", al.Message, orNull(al.Recommendation), al.FiredAt, al.ResolvedAt)
		}
	}
	return t
}

// showRecommendations lists the changes the monitor recommends.
func (a *Admin) showRecommendations() *table {
	t := newTable("pool", "priority", "category", "setting", "current", "suggested", "implementation", "evidence")
	for _, p := range a.sortedPools() {
		for _, rec := range a.report(p).Recommendations {
			t.add(p.Name, rec.Priority, rec.Category, rec.Setting, rec.Current, rec.Suggested, rec.Implementation, rec.Evidence)
		}
	}
	return t
}

// showDiagnosis lists why clients wait, per pool.
func (a *Admin) showDiagnosis() *table {
	t := newTable("pool", "cause", "severity", "summary", "evidence", "fix")
	for _, p := range a.sortedPools() {
		for _, f := range a.report(p).Diagnosis {
			t.add(p.Name, strings.ReplaceAll(string(f.Cause), "_", " "), f.Severity, f.Summary, f.Evidence, f.Fix)
		}
	}
	return t
}
