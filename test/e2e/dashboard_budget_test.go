package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/motorpool/motorpool/internal/testenv"
)

// TestDashboardBudget: a database with a budget of 6 whose high-priority
// service holds 5 connections in open transactions while its other pools are
// idle, as a person sees it in headless Chromium. The overview shows the
// budget's panel, refreshed as the transactions begin, with the service
// borrowing 2 beyond its fair share of 3; a database without a budget has no
// panel, and on a phone the panel is no wider than the window; the
// service's page has a line with its part. Screenshots go to
// $TMPDIR/motorpool-budget-*.png.
func TestDashboardBudget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	e := startDashboard(t, fmt.Sprintf(`auth: { users: { %s: { password: %q } } }
databases:
  %s: { url: %q, budget: 6 }
  unbudgeted: { url: %q }
services:
  gateway: { database: %s, match: { application_name: "gateway*" }, priority: high, connection_limit: 10 }
  reports: { database: %s, match: { application_name: "reports*" }, priority: low, connection_limit: 10 }
`, appUser, appPassword, db, pgURL(p, db), pgURL(p, db), db, db))
	if n := queryInt(t, connect(t, dsn(e.Addr, appUser, appPassword, "unbudgeted", "")), "SELECT 1"); n != 1 {
		t.Fatal("a query through the database without a budget")
	}

	bctx := browser(t, ctx, 1400, 1000)
	panel := `section.budget[data-database="` + db + `"]`
	step(t, "load the overview", chromedp.Do(bctx, chromedp.Navigate(e.HTTP+"/"), chromedp.WaitVisible(panel)))

	// The weights of the database's own pool (medium, at most 2 connections),
	// gateway (high) and reports (low) give them fair shares of 2, 3 and 1.
	for range 5 {
		conn := connect(t, dsn(e.Addr, appUser, appPassword, db, "application_name=gateway"))
		if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, conn, "SELECT 1"); n != 1 {
			t.Fatal("a query in gateway's transaction")
		}
	}
	gateway := panel + ` tr[data-pool="` + db + `/gateway"]`
	cells := `[...(document.querySelector(` + strconv.Quote(gateway) + `) || {cells: []}).cells].map(c => c.innerText.trim())`
	_, err := chromedp.Run(bctx, chromedp.Poll[bool](cells+`[6] === '5'`, chromedp.WithPollingTimeout(time.Minute)))
	if err != nil {
		text, _ := chromedp.Run(bctx, innerText(panel))
		t.Fatalf("gateway never held 5 in the panel: %v; the panel:\n%s", err, text)
	}
	row, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](cells))
	step(t, "read gateway's row", err)
	// pool, priority, demand, fair share, share, limit, held, borrowing
	if want := []string{db + "/gateway", "high", "3", "5", "5", "5", "borrows 2"}; len(row) != 8 ||
		!slices.Equal(append(row[:2:2], row[3:]...), want) {
		t.Errorf("gateway's row is %q, want %q with its demand third", row, want)
	} else if d, err := strconv.ParseFloat(row[2], 64); err != nil || d < 5 {
		t.Errorf("gateway's demand is %q, want at least the 5 it leases", row[2])
	}
	text, err := chromedp.Run(bctx, innerText(panel))
	step(t, "read the panel", err)
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	step(t, "screenshot", err)
	save(t, "motorpool-budget-overview.png", shot)
	if want := "Budget " + db + ": 5 of 6 in use"; !strings.Contains(text, want) {
		t.Errorf("the panel does not say %q:\n%s", want, text)
	}
	panels, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('section.budget')].map(s => s.dataset.database)`))
	step(t, "list the panels", err)
	if len(panels) != 1 || panels[0] != db {
		t.Errorf("budget panels for %q, want only %q", panels, db)
	}
	bar, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+strconv.Quote(panel+` .budget-bar span`)+`)].map(s => s.className + ' ' + s.style.width)`))
	step(t, "read the bar", err)
	if len(bar) != 1 || bar[0] != "prio-high 83%" {
		t.Errorf("the budget's bar is %q, want gateway's 5 of 6 only: [prio-high 83%%]", bar)
	}

	narrow := browser(t, ctx, 800, 800)
	step(t, "a phone's viewport", chromedp.Do(narrow, chromedp.EmulateViewport(360, 740)))
	step(t, "load the overview", chromedp.Do(narrow, chromedp.Navigate(e.HTTP+"/"), chromedp.WaitVisible(panel)))
	widths, err := chromedp.Run(narrow, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	step(t, "measure the overview", err)
	if widths[0] > widths[1] {
		t.Errorf("on a phone, the overview with the budget is %d px wide in a window of %d", widths[0], widths[1])
	}

	step(t, "load gateway's page", chromedp.Do(bctx, chromedp.Navigate(e.HTTP+"/pools/"+db+"%2Fgateway"), chromedp.WaitVisible(`#budget`)))
	line, err := chromedp.Run(bctx, innerText(`#budget`))
	step(t, "read the budget line", err)
	if want := "Budget " + db + ": 5 of 6 in use · this pool: share 5 · limit 5 · held 5 · fair share 3 · borrowing 2"; squash(line) != want {
		t.Errorf("gateway's page says %q, want %q", squash(line), want)
	}
	shot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100))
	step(t, "screenshot", err)
	save(t, "motorpool-budget-pool.png", shot)
}
