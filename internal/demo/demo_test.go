package demo

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/pg"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// startDemoProxy runs motorpool in this process with the demo configuration,
// in front of a fresh demo database on the shared test PostgreSQL.
func startDemoProxy(t *testing.T) (addr string, px *proxy.Proxy) {
	t.Helper()
	p := testenv.Postgres(t)
	ctx := context.Background()
	require.NoError(t, p.EnsureDatabase(ctx, Database, ""))
	var yaml bytes.Buffer
	require.NoError(t, WriteConfig(&yaml, ConfigParams{
		Backend: p.DSN(p.SuperUser, "", Database), Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0",
	}))
	cfg, err := config.Parse("demo.yaml", yaml.Bytes(), nil)
	require.NoError(t, err, yaml.String())
	px, err = proxy.New(cfg, pg.New(pg.Config{}), nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- px.Serve(ln) }()
	t.Cleanup(func() {
		px.Close()
		<-served
	})
	return ln.Addr().String(), px
}

// TestRun runs the whole workload, with fewer web-api clients, for a few
// seconds: every service commits transactions, none fails, and the live
// report and the summary name every service.
func TestRun(t *testing.T) {
	addr, px := startDemoProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, Prepare(ctx, DSN(addr, User, Password, Database, "setup")))

	services := Services()
	services[0].Clients = 10
	var live bytes.Buffer
	sum := Run(ctx, Options{
		Addr: addr, Pools: px.Pools, Services: services,
		Duration: 3 * time.Second, Every: time.Second, Out: &live,
		Grace: time.Hour, // every client finishes its round, however slow the machine
	})
	require.Len(t, sum.Services, len(services))
	for _, s := range sum.Services {
		assert.Positive(t, s.Transactions, "transactions of %s", s.Name)
		assert.Zero(t, s.Errors, "errors of %s: %v", s.Name, s.FirstErrors)
		assert.Equal(t, Database+"/"+s.Name, s.Pool)
		assert.GreaterOrEqual(t, s.Acquires, s.Transactions, "each transaction of %s acquired a server connection", s.Name)
		assert.LessOrEqual(t, s.Waited, s.Acquires)
	}
	var out bytes.Buffer
	sum.Print(&out)
	for _, s := range services {
		assert.Contains(t, live.String(), " "+s.Name+" ")
		assert.Contains(t, out.String(), s.Name+" ")
	}
	assert.NotContains(t, out.String(), "error:")
	t.Logf("live report:\n%s\nsummary:\n%s", live.String(), out.String())
}

// TestRunEndsWhenCancelled ends the workload through its context long before
// its duration: Run returns once its clients have finished their round, and
// counts nothing as an error.
func TestRunEndsWhenCancelled(t *testing.T) {
	addr, px := startDemoProxy(t)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, Prepare(ctx, DSN(addr, User, Password, Database, "setup")))
	services := Services()[1:2] // users: steady, short transactions
	done := make(chan *Summary, 1)
	go func() {
		done <- Run(ctx, Options{Addr: addr, Pools: px.Pools, Services: services, Duration: time.Hour})
	}()
	require.Eventually(t, func() bool {
		for _, pl := range px.Pools() {
			if pl.Service == "users" && pl.Counters.Transactions.Load() > 0 {
				return true
			}
		}
		return false
	}, time.Minute, 10*time.Millisecond)
	cancel()
	sum := <-done
	assert.Positive(t, sum.Services[0].Transactions)
	assert.Zero(t, sum.Services[0].Errors, sum.Services[0].FirstErrors)
}

// TestRunCountsErrors points the clients at a wrong password: every
// connection attempt is an error, and the summary shows the message.
func TestRunCountsErrors(t *testing.T) {
	addr, _ := startDemoProxy(t)
	services := Services()[3:] // batch: one client
	sum := Run(context.Background(), Options{
		Addr: addr, Password: "wrong", User: User, Services: services, Duration: time.Millisecond,
	})
	s := sum.Services[0]
	assert.Zero(t, s.Transactions)
	assert.Positive(t, s.Errors)
	require.NotEmpty(t, s.FirstErrors)
	assert.Contains(t, s.FirstErrors[0], "password authentication failed")
	assert.Empty(t, s.Pool, "no pools were given")
}

func TestWriteConfig(t *testing.T) {
	var yaml bytes.Buffer
	require.NoError(t, WriteConfig(&yaml, ConfigParams{Backend: "postgresql://u:p$x@db.example:5433/motorpool_demo?sslmode=disable"}))
	cfg, err := config.Parse("demo.yaml", yaml.Bytes(), nil)
	require.NoError(t, err, yaml.String())
	assert.Equal(t, "127.0.0.1:6432", cfg.Listen)
	assert.Equal(t, "p$x", cfg.Databases[0].URL.Password, "a $ in the URL is not an environment variable")
	for _, s := range Services() {
		svc := cfg.Service(s.Name)
		require.NotNil(t, svc, s.Name)
		assert.Equal(t, s.Name, svc.Match.ApplicationName)
		assert.Equal(t, s.Type, svc.Type)
		assert.Equal(t, s.ConnectionLimit, svc.Pool.ConnectionLimit)
	}
	limits := cfg.Databases[0].Pool.ConnectionLimit
	for _, s := range cfg.Services {
		limits += s.Pool.ConnectionLimit
	}
	assert.Less(t, cfg.Databases[0].Budget, limits, "the pools share a budget smaller than their sum, so that sharing shows")
	assert.NotEmpty(t, cfg.Scaling.Rules)
	assert.Equal(t, []string{AdminUser}, cfg.Admin.Users)
	assert.True(t, strings.HasPrefix(yaml.String(), "# motorpool demo configuration"))
}
