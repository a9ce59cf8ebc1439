package admin

import (
	"net/http"

	"github.com/motorpool/motorpool/internal/proxy"
)

// showScaling lists the latest scaling decisions, oldest first: when, the pool,
// the bound that changed (max: the maximum, moved by a rule or raised to the
// forecast; min: the connections kept open, moved by the forecast), from and to
// what, and why.
func (a *Admin) showScaling() *table {
	t := newTable("time", "pool", "bound", "from", "to", "reason")
	for _, e := range a.px.ScalingEvents() {
		t.add(e.Time, e.Pool, e.Bound, e.From, e.To, e.Reason)
	}
	return t
}

// apiScaling returns the latest scaling decisions, oldest first.
func (a *Admin) apiScaling(w http.ResponseWriter, r *http.Request) {
	ev := a.px.ScalingEvents()
	if ev == nil {
		ev = []proxy.ScalingEvent{}
	}
	writeJSON(w, http.StatusOK, ev)
}
