package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/internal/testenv"
)

// dashEnv is an in-process motorpool with its admin HTTP server and sampler,
// for the dashboard tests.
type dashEnv struct {
	Addr  string // the proxy
	HTTP  string // the admin server, http://host:port
	Proxy *proxy.Proxy
	Admin *admin.Admin

	mu sync.Mutex    // protects hs
	hs *admin.Server // nil while stopped (stopHTTP)
}

// dashConfig parses yaml, without listen and admin, which it adds.
func dashConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	text := "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\n" + yaml
	cfg, err := config.Parse("dashboard.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return cfg
}

// startDashboard runs motorpool configured by yaml (see dashConfig);
// t.Cleanup stops it.
func startDashboard(t *testing.T, yaml string) *dashEnv { return startDashboardSampled(t, yaml, true) }

// startDashboardSampled is startDashboard, without the sampler unless sample
// is set: the pools then stay "not sampled yet".
func startDashboardSampled(t *testing.T, yaml string, sample bool) *dashEnv {
	t.Helper()
	px, err := proxy.New(dashConfig(t, yaml), pg.New(pg.Config{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := admin.New(admin.Options{Proxy: px, Monitor: monitor.New(monitor.Options{Window: 20 * time.Second}), Version: "e2e"})
	px.SetConsole(a)
	px.SetObserver(a.Observer())
	e := &dashEnv{Proxy: px, Admin: a}
	e.startHTTP(t, "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if sample {
		wg.Go(func() { a.Run(ctx) })
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.Addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- px.Serve(ln) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		e.stopHTTP()
		px.Close()
		<-served
	})
	return e
}

// startHTTP serves the admin HTTP API on addr.
func (e *dashEnv) startHTTP(t *testing.T, addr string) {
	t.Helper()
	hs, err := admin.Listen(addr, e.Admin.Handler())
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.hs = hs
	e.mu.Unlock()
	e.HTTP = "http://" + hs.Addr()
}

// stopHTTP stops the admin HTTP API, as a restart of motorpool does.
func (e *dashEnv) stopHTTP() {
	e.mu.Lock()
	hs := e.hs
	e.hs = nil
	e.mu.Unlock()
	if hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}
}

// pgURL is a URL of database db on the PostgreSQL p, logged in as scram_user.
func pgURL(p *testenv.PG, db string) string {
	u := url.URL{Scheme: "postgresql", Host: net.JoinHostPort(p.Host, strconv.Itoa(p.Port)), Path: "/" + db,
		User: url.UserPassword(testenv.ScramUser, testenv.ScramPassword), RawQuery: "sslmode=disable&connection_limit=2"}
	return u.String()
}

// step fails the test when a browser step, named what, failed with err.
func step(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// browser starts a headless Chromium of the given window size; the returned
// context drives its first tab.
func browser(t *testing.T, ctx context.Context, width, height int) context.Context {
	t.Helper()
	testenv.Require(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(testenv.Bin(t, "chromium")),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// trapScript counts, in window.__xss, whatever markup injected through a name
// runs; and counts htmx's swaps and failed requests.
const trapScript = `
window.__swaps = 0; window.__htmxErrors = [];
document.body.addEventListener('htmx:afterSwap', function () { window.__swaps++; });
document.body.addEventListener('htmx:responseError', function (e) { window.__htmxErrors.push(e.detail.pathInfo.requestPath + ' ' + e.detail.xhr.status); });
document.body.addEventListener('htmx:sendError', function (e) { window.__htmxErrors.push('send ' + e.detail.pathInfo.requestPath); });
true`

// oddPoolName is a database name with markup, quotes, and each character
// that means something in a URL path.
const oddPoolName = `../a/b?c#d%2f<img src=x onerror=window.__xss=1>"' x`

// TestDashboardOddNames: a pool whose name holds markup, quotes, "/", "?",
// "#", "%" and ".." is shown as its name, never run; its card links to its
// page, which draws its charts and refreshes its panels.
func TestDashboardOddNames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	e := startDashboard(t, fmt.Sprintf(`auth: { users: { %s: { password: %q } } }
databases:
  %q: { url: %q }
`, appUser, appPassword, oddPoolName, pgURL(p, db)))
	conn := connect(t, dsn(e.Addr, appUser, appPassword, oddPoolName, ""))
	if n := queryInt(t, conn, "SELECT 1"); n != 1 {
		t.Fatal("a query through the odd pool")
	}

	bctx := browser(t, ctx, 1400, 1000)
	step(t, "load the overview", chromedp.Do(bctx, chromedp.Navigate(e.HTTP+"/"), chromedp.WaitVisible(`a.card`)))
	names, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('a.card .pool-name')].map(e => e.textContent)`))
	step(t, "card names", err)
	if len(names) != 1 || names[0] != oddPoolName {
		t.Errorf("the overview shows %q, want the name as it is: %q", names, oddPoolName)
	}
	href, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('a.card').href`))
	step(t, "the card's link", err)
	step(t, "follow the card's link", chromedp.Do(bctx, chromedp.Navigate(href)))
	title, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector('#summary h1') || document.body).firstChild.textContent.trim()`))
	step(t, "the pool's heading", err)
	if title != oddPoolName {
		t.Fatalf("the card's link %s leads to a page saying %q, want the page of %q", href, title, oddPoolName)
	}
	_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](trapScript))
	step(t, "trap htmx events", err)
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](
		`window.motorpoolCharts && window.motorpoolCharts.updates >= 2 && window.__swaps >= 2 || window.__htmxErrors.length > 0`,
		chromedp.WithPollingTimeout(time.Minute)))
	step(t, "wait for charts and panels to refresh", err)
	state, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]any](
		`({updates: window.motorpoolCharts.updates, error: window.motorpoolCharts.error || '', htmx: window.__htmxErrors, xss: window.__xss || 0})`))
	step(t, "read the page's state", err)
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	step(t, "screenshot", err)
	save(t, "motorpool-odd-name.png", shot)
	if errs, _ := state["htmx"].([]any); len(errs) > 0 || state["error"] != "" {
		t.Errorf("refreshing the page failed: htmx %v, charts %v", errs, state["error"])
	}
	if state["xss"] != float64(0) {
		t.Errorf("markup in the pool's name ran")
	}
	if s := strings.TrimSpace(fmt.Sprint(state["updates"])); s == "0" {
		t.Errorf("the charts never drew")
	}
}

// TestDashboardLayoutLongNames: thirty pools with long names and no traffic
// yet, one with a client whose application_name is long, as a person sees
// them in a wide window and on a phone: every name stays within its card, and
// no page is wider than the window.
func TestDashboardLayoutLongNames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	var yaml strings.Builder
	fmt.Fprintf(&yaml, "auth: { users: { %s: { password: %q } } }\ndatabases:\n", appUser, appPassword)
	for i := range 30 {
		fmt.Fprintf(&yaml, "  shop_%02d_with_a_rather_long_database_name_of_its_own: { url: %q }\n", i, pgURL(p, db))
	}
	e := startDashboard(t, yaml.String())
	const first = "shop_00_with_a_rather_long_database_name_of_its_own"
	conn := connect(t, dsn(e.Addr, appUser, appPassword, first, "application_name="+strings.Repeat("a_long_application_name_", 2)))
	if n := queryInt(t, conn, "SELECT 1"); n != 1 {
		t.Fatal("a query")
	}

	overflow := func(bctx context.Context, what string) {
		t.Helper()
		widths, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		step(t, what, err)
		if widths[0] > widths[1] {
			t.Errorf("%s is %d px wide in a window of %d", what, widths[0], widths[1])
		}
	}
	wide := browser(t, ctx, 1400, 1000)
	step(t, "load the overview", chromedp.Do(wide, chromedp.Navigate(e.HTTP+"/"), chromedp.WaitVisible(`a.card`)))
	cards, err := chromedp.Run(wide, chromedp.Evaluate[[]int](
		`[document.querySelectorAll('a.card').length, [...document.querySelectorAll('a.card')].filter(c => c.scrollWidth > c.clientWidth).length]`))
	step(t, "measure the cards", err)
	if cards[0] != 30 || cards[1] != 0 {
		t.Errorf("%d cards, %d of them with a name wider than the card; want 30 and 0", cards[0], cards[1])
	}
	overflow(wide, "the overview")
	shot, err := chromedp.Run(wide, chromedp.FullScreenshot(100))
	step(t, "screenshot", err)
	save(t, "motorpool-30-pools.png", shot)

	narrow := browser(t, ctx, 800, 800)
	step(t, "a phone's viewport", chromedp.Do(narrow, chromedp.EmulateViewport(360, 740)))
	step(t, "load the overview", chromedp.Do(narrow, chromedp.Navigate(e.HTTP+"/"), chromedp.WaitVisible(`a.card`)))
	overflow(narrow, "the overview")
	step(t, "load the pool's page", chromedp.Do(narrow, chromedp.Navigate(e.HTTP+"/pools/"+first), chromedp.WaitVisible(`#conns`)))
	overflow(narrow, "the pool's page")
	shot, err = chromedp.Run(narrow, chromedp.FullScreenshot(100))
	step(t, "screenshot", err)
	save(t, "motorpool-narrow-pool.png", shot)
}

// TestDashboardSaysWhenNotLive: a pool's page open while a reload removes the
// pool says that the pool no longer exists, rather than going on showing it
// as it was; a page open while motorpool's admin server stops says that
// motorpool is not answering, and once it is back the page is live again by
// itself.
func TestDashboardSaysWhenNotLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := testenv.Postgres(t)
	db := newDatabase(t, p)
	yaml := func(names ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "auth: { users: { %s: { password: %q } } }\ndatabases:\n", appUser, appPassword)
		for _, n := range names {
			fmt.Fprintf(&b, "  %s: { url: %q }\n", n, pgURL(p, db))
		}
		return b.String()
	}
	e := startDashboard(t, yaml("kept", "removed"))
	bctx := browser(t, ctx, 1200, 900)
	// waitLive waits until the notice is shown and says want, or is hidden
	// (want "") and the charts have drawn again.
	waitLive := func(what, want string) {
		t.Helper()
		cond := `document.getElementById('live').hidden && window.motorpoolCharts.updates > ` + strconv.Itoa(updates(t, bctx))
		if want != "" {
			cond = `!document.getElementById('live').hidden && document.getElementById('live').textContent.includes(` + strconv.Quote(want) + `)`
		}
		_, err := chromedp.Run(bctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(time.Minute)))
		if err != nil {
			text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('live').hidden + ' ' + document.getElementById('live').textContent`))
			t.Fatalf("%s: %v; the notice: %q", what, err, text)
		}
	}

	step(t, "open the pool's page", chromedp.Do(bctx, chromedp.Navigate(e.HTTP+"/pools/removed")))
	waitLive("the page live", "")
	step(t, "reload without the pool", e.Proxy.Reload(dashConfig(t, yaml("kept"))))
	waitLive("the page to say the pool is gone", "no longer exists")
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	step(t, "screenshot", err)
	save(t, "motorpool-pool-removed.png", shot)

	step(t, "open another pool's page", chromedp.Do(bctx, chromedp.Navigate(e.HTTP+"/pools/kept")))
	waitLive("the page live", "")
	addr := strings.TrimPrefix(e.HTTP, "http://")
	e.stopHTTP()
	waitLive("the page to say motorpool does not answer", "not answering")
	e.startHTTP(t, addr)
	waitLive("the page live again", "")
}

// updates returns how many times the page's charts have drawn.
func updates(t *testing.T, bctx context.Context) int {
	t.Helper()
	n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.motorpoolCharts ? window.motorpoolCharts.updates : 0`))
	if err != nil {
		t.Fatalf("chart updates: %v", err)
	}
	return n
}

// TestDashboardChartsBeforeTheFirstSample: the charts of a pool with no
// samples yet span the last minute, not the years uPlot picks for no data.
func TestDashboardChartsBeforeTheFirstSample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := testenv.Postgres(t)
	e := startDashboardSampled(t, fmt.Sprintf("databases:\n  quiet: { url: %q }\n", pgURL(p, newDatabase(t, p))), false)
	bctx := browser(t, ctx, 1200, 900)
	if err := chromedp.Do(bctx, chromedp.Navigate(e.HTTP+"/pools/quiet")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.motorpoolCharts && window.motorpoolCharts.updates >= 1`,
		chromedp.WithPollingTimeout(time.Minute))); err != nil {
		t.Fatalf("the charts never drew: %v", err)
	}
	span, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](
		`Object.values(window.motorpoolCharts.charts).map(c => c.scales.x.max - c.scales.x.min)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range span {
		if s <= 0 || s > 3600 {
			t.Errorf("an empty chart spans %.0f s, want at most an hour: %v", s, span)
			break
		}
	}
}
