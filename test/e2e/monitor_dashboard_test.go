package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/testenv"
)

// TestMonitorDashboard loads the dashboard of a motorpool under load in
// headless Chromium, as a person would: the overview shows the pool as
// critical, and the pool's page draws its charts from live data and shows the
// connection_limit recommendation. Screenshots go to $TMPDIR/motorpool-*.png.
func TestMonitorDashboard(t *testing.T) {
	testenv.Require(t, "chromium")
	chromium := testenv.Bin(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := startMonitored(t, "pool_timeout=2", 20*time.Second)
	e.load(t, ctx, 20, "SELECT pg_sleep(0.5)")
	waitFor(t, ctx, "the pool to turn critical", func() bool {
		r := e.report(t)
		return r.Status == monitor.Critical && recommends(r, "connection_limit", "3")
	})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1100),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	card := `a.card[data-pool="` + e.DB + `"]`
	step(t, "load the overview", chromedp.Do(bctx, chromedp.Navigate(e.HTTP+"/"), chromedp.WaitVisible(card)))
	overview, err := chromedp.Run(bctx, innerText(card))
	step(t, "read the pool's card", err)
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	step(t, "screenshot", err)
	save(t, "motorpool-overview.png", shot)
	if !strings.Contains(overview, "critical") {
		t.Errorf("overview card says %q, want critical", squash(overview))
	}

	step(t, "load the pool page", chromedp.Do(bctx, chromedp.Navigate(e.HTTP+"/pools/"+e.DB)))
	// The charts poll the series every 2 s; wait for a second update so that
	// live data, not only the first response, was drawn.
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](
		`window.motorpoolCharts && window.motorpoolCharts.updates >= 2 && window.motorpoolCharts.points >= 3`,
		chromedp.WithPollingTimeout(time.Minute)))
	step(t, "wait for chart data", err)
	points, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.motorpoolCharts.points`))
	step(t, "points", err)
	updates, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.motorpoolCharts.updates`))
	step(t, "updates", err)
	canvases, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#charts canvas').length`))
	step(t, "canvases", err)
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelector('#recommendations').innerText.includes('connection_limit')`,
		chromedp.WithPollingTimeout(time.Minute)))
	step(t, "wait for the recommendation", err)
	recs, err := chromedp.Run(bctx, innerText(`#recommendations`))
	step(t, "recommendations", err)
	diag, err := chromedp.Run(bctx, innerText(`#diagnosis`))
	step(t, "diagnosis", err)
	conns, err := chromedp.Run(bctx, innerText(`#conns`))
	step(t, "connections", err)
	shot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100))
	step(t, "screenshot", err)
	save(t, "motorpool-pool.png", shot)
	t.Logf("charts: %d canvases, %d points after %d updates", canvases, points, updates)
	t.Logf("recommendations panel: %q", squash(recs))
	t.Logf("diagnosis panel: %q", squash(diag))
	if canvases < 4 {
		t.Errorf("%d chart canvases, want 4", canvases)
	}
	if !strings.Contains(recs, "Update connection_limit parameter to 3") {
		t.Errorf("recommendations panel: %q", recs)
	}
	if !strings.Contains(diag, "too small") {
		t.Errorf("diagnosis panel: %q", diag)
	}
	if !strings.Contains(conns, "active") || !strings.Contains(conns, "waiting") {
		t.Errorf("connection tables show no active server or waiting client: %q", squash(conns))
	}
}

func save(t *testing.T, name string, png []byte) {
	p := filepath.Join(os.TempDir(), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot not saved: %v", err)
		return
	}
	t.Logf("screenshot: %s", p)
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// innerText reads an element's text in one step: htmx may replace the element
// between chromedp.Text's query of the node and its reading of it.
func innerText(sel string) chromedp.Action[string] {
	return chromedp.Evaluate[string](`document.querySelector(` + strconv.Quote(sel) + `).innerText`)
}
