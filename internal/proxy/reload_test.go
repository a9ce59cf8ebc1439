package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/pool"
)

const reloadBefore = `
auth: { users: { app: { password: x }, analyst: { password: y } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=5" }
	keep: { url: "postgresql://app:pw@127.0.0.1:1/keep?connection_limit=3" }
	gone: { url: "postgresql://app:pw@127.0.0.1:1/gone" }
	tight: { url: "postgresql://app:pw@127.0.0.1:1/tight?connection_limit=2&min_connections=2" }
services:
	reports: { database: shop, match: { user: analyst }, pool_mode: transaction }
`

const reloadAfter = `
auth: { users: { app: { password: x }, analyst: { password: y } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=8" }
	keep: { url: "postgresql://app:pw@127.0.0.1:1/keep?connection_limit=3" }
	tight:
		url: "postgresql://app:pw@127.0.0.1:1/tight?connection_limit=2&min_connections=2"
		pool_timeout: 1ms
		idle_timeout: 90s
		max_connecting: 3
		prepared_statements: false
services:
	reports: { database: shop, match: { user: analyst }, pool_mode: session }
	gateway: { database: shop, match: { application_name: "gw*" } }
`

// closedPool reports whether a pool core is closed: Resize to its current size
// changes nothing on an open pool and fails with ErrClosed on a closed one.
func closedPool(t *testing.T, pl *Pool) bool {
	t.Helper()
	st := pl.core.Stats()
	return errors.Is(pl.core.Resize(st.MinSize, st.MaxSize), pool.ErrClosed)
}

// openLeases opens a session on database db for a new client and leases n server
// connections through it.
func openLeases(t *testing.T, p *Proxy, db string, n int) (*Session, []Lease) {
	t.Helper()
	c := testClient(t, p)
	rt, err := c.Route(RouteRequest{Database: db, User: "app"})
	require.NoError(t, err)
	s, err := rt.Open(c)
	require.NoError(t, err)
	var ls []Lease
	for range n {
		l, err := s.Acquire(context.Background())
		require.NoError(t, err)
		ls = append(ls, l)
	}
	return s, ls
}

// connIDs lists the IDs of a pool's server connections.
func connIDs(pl *Pool) []uint64 {
	var ids []uint64
	for _, c := range pl.core.Conns() {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestReload: pools whose settings did not change carry over, a pool whose sizes,
// timeouts or other live settings changed is reconfigured in place with its server
// connections, any other change builds a new pool for new sessions while the old one
// serves its sessions to the end and then closes, and a pool whose database is gone
// closes.
func TestReload(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, reloadBefore, nil)
	shop, keep, gone, reports, tight := poolNamed(p, "shop"), poolNamed(p, "keep"), poolNamed(p, "gone"), poolNamed(p, "shop/reports"), poolNamed(p, "tight")
	require.NotNil(t, shop)
	require.NotNil(t, keep)
	require.NotNil(t, gone)
	require.NotNil(t, reports)
	require.NotNil(t, tight)

	analyst := testClient(t, p)
	rt, err := analyst.Route(RouteRequest{Database: "shop", User: "analyst"})
	require.NoError(t, err)
	s, err := rt.Open(analyst)
	require.NoError(t, err)
	require.Same(t, reports, s.Pool())
	lease, err := s.Acquire(context.Background())
	require.NoError(t, err)

	// A client holds both of tight's server connections across the reload.
	tightSession, tightLeases := openLeases(t, p, "tight", 2)
	tightConns := connIDs(tight)
	require.Len(t, tightConns, 2)

	require.NoError(t, p.Reload(parseConfig(t, reloadAfter)))

	t.Run("an unchanged pool carries over", func(t *testing.T) {
		assert.Same(t, keep, poolNamed(p, "keep"))
		assert.False(t, closedPool(t, keep))
	})
	t.Run("a size change resizes the pool in place", func(t *testing.T) {
		assert.Same(t, shop, poolNamed(p, "shop"))
		assert.Equal(t, 8, shop.Settings().ConnectionLimit)
		assert.Equal(t, 8, shop.core.Stats().MaxSize)
	})
	t.Run("timeouts and other live settings change in place", func(t *testing.T) {
		assert.Same(t, tight, poolNamed(p, "tight"))
		assert.False(t, closedPool(t, tight))
		set := tight.Settings()
		assert.Equal(t, time.Millisecond, set.PoolTimeout)
		assert.Equal(t, 90*time.Second, set.IdleTimeout)
		assert.Equal(t, 3, set.MaxConnecting)
		assert.False(t, set.PreparedStatements)
		assert.Equal(t, tightConns, connIDs(tight), "the same server connections, and no more")
		assert.EqualValues(t, 2, tight.core.Stats().Created)

		// Both connections are leased: a new client's acquire fails after the new
		// 1ms pool_timeout, well before its own 1-minute deadline.
		c := testClient(t, p)
		rt, err := c.Route(RouteRequest{Database: "tight", User: "app"})
		require.NoError(t, err)
		s2, err := rt.Open(c)
		require.NoError(t, err)
		require.Same(t, tight, s2.Pool())
		defer s2.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err = s2.Acquire(ctx)
		var ae *AcquireError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, pool.FailExhausted, ae.Reason, "%v", err)

		for _, l := range tightLeases {
			tightSession.Release(l)
		}
		tightSession.Close()
		assert.Equal(t, tightConns, connIDs(tight), "the connections stay in the pool")
	})
	t.Run("a removed database's pool closes", func(t *testing.T) {
		assert.Nil(t, poolNamed(p, "gone"))
		p.bg.Wait()
		assert.True(t, closedPool(t, gone))
		_, err := testClient(t, p).Route(RouteRequest{Database: "gone", User: "app"})
		assert.ErrorIs(t, err, ErrUnknownDatabase)
	})
	t.Run("a new service gets its pool", func(t *testing.T) {
		gw := poolNamed(p, "shop/gateway")
		require.NotNil(t, gw)
		assert.Same(t, gw, routedPool(t, p, RouteRequest{Database: "shop", User: "app", Application: "gw-1"}))
	})
	t.Run("a changed pool is replaced for new sessions", func(t *testing.T) {
		next := poolNamed(p, "shop/reports")
		require.NotNil(t, next)
		assert.NotSame(t, reports, next)
		assert.Equal(t, ModeSession, next.Mode)
		assert.Same(t, next, routedPool(t, p, RouteRequest{Database: "shop", User: "analyst"}))
	})
	t.Run("the replaced pool serves its open session to the end, then closes", func(t *testing.T) {
		assert.Equal(t, ModeTransaction, s.Mode(), "the session keeps its pool's mode")
		s.Release(lease)
		again, err := s.Acquire(context.Background())
		require.NoError(t, err, "the old pool still lends to its session")
		backend := again.Backend().(*stubBackend)
		s.Release(again)
		assert.False(t, closedPool(t, reports))
		s.Close()
		p.bg.Wait()
		assert.True(t, closedPool(t, reports), "closed after its last session")
		assert.True(t, backend.closed.Load(), "its server connections are closed")
	})
}

// TestReloadKeepsRoutingAndAuthCurrent: routing and credentials follow the new
// configuration at once, for clients that log in after the reload.
func TestReloadKeepsRoutingAndAuthCurrent(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, reloadBefore, nil)
	rt, err := testClient(t, p).Route(RouteRequest{Database: "shop", User: "app"})
	require.NoError(t, err)
	assert.Equal(t, "x", rt.Credentials.Password)
	require.NoError(t, p.Reload(parseConfig(t, `
auth: { users: { app: { password: changed } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=5" }
`)))
	rt, err = testClient(t, p).Route(RouteRequest{Database: "shop", User: "app"})
	require.NoError(t, err)
	assert.Equal(t, "changed", rt.Credentials.Password)
	assert.Equal(t, "shop", routedPool(t, p, RouteRequest{Database: "shop", User: "analyst"}).Name, "the reports service is gone")
}

// TestReloadUserPasswordEffect: what config.Diff says of a changed auth.users
// password, as the reload's log shows it, is what Reload does to the user's
// pool of a database whose URL names no user: a cleartext password, which that
// pool logs in to the server with, rebuilds it (new pool); a hash, which it
// cannot send on, keeps it (live).
func TestReloadUserPasswordEffect(t *testing.T) {
	t.Parallel()
	const md5One, md5Two = "md5" + "0123456789abcdef0123456789abcdef", "md5" + "fedcba9876543210fedcba9876543210"
	conf := func(auth string) string {
		return "auth: " + auth + "\ndatabases:\n\town: { url: \"postgresql://127.0.0.1:1/own\" }\n"
	}
	tests := []struct {
		name          string
		before, after string
		want          config.Effect
	}{
		{"cleartext", conf("{ users: { app: { password: one } } }"), conf("{ users: { app: { password: two } } }"), config.ApplyNewPool},
		{"md5 hash", conf("{ type: md5, users: { app: { password: " + md5One + " } } }"), conf("{ type: md5, users: { app: { password: " + md5Two + " } } }"), config.ApplyLive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newStubProxy(t, tt.before, nil)
			req := RouteRequest{Database: "own", User: "app"}
			before := routedPool(t, p, req)
			next := parseConfig(t, tt.after)
			changes := config.Diff(p.Config(), next)
			require.NoError(t, p.Reload(next))
			rebuilt := routedPool(t, p, req) != before
			assert.Equal(t, tt.want, changes.Effect(), changes.String())
			assert.Equal(t, changes.Effect() == config.ApplyNewPool, rebuilt, "the diff says %q; pool rebuilt: %v", changes.String(), rebuilt)
		})
	}
}

// recordingProto is a stubProto that keeps the server connections it opens, by
// database.
type recordingProto struct {
	stubProto
	mu     sync.Mutex
	opened map[string][]*stubBackend
}

func (p *recordingProto) Dial(ctx context.Context, t *Target) (Backend, error) {
	b := &stubBackend{}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opened[t.Database] = append(p.opened[t.Database], b)
	return b, nil
}

func (p *recordingProto) openedFor(db string) []*stubBackend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.opened[db])
}

// TestReloadFailureChangesNothing: when a pool of the new configuration cannot be
// built, the reload fails before any running pool is changed, and the pools it did
// build are closed. It runs in a bubble so that every pool goroutine has done its
// work (or is gone) when the test looks, and so that a pool left open fails it.
func TestReloadFailureChangesNothing(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	synctest.Test(t, func(t *testing.T) {
		proto := &recordingProto{opened: make(map[string][]*stubBackend)}
		p, err := New(parseConfig(t, reloadBefore), proto, nil)
		require.NoError(t, err)
		defer p.Close()
		before := p.Pools()
		tight := poolNamed(p, "tight")
		require.NotNil(t, tight)

		// tight's pool_timeout changes; fresh can be built, broken cannot.
		next := strings.Replace(reloadBefore, `min_connections=2" }`, `min_connections=2", pool_timeout: 1ms }`, 1)
		next = strings.Replace(next, "services:", `	fresh: { url: "postgresql://app:pw@127.0.0.1:1/fresh?min_connections=1" }
	broken: { url: "postgresql://app:pw@127.0.0.1:1/broken?sslmode=verify-full&sslrootcert=`+missing+`" }
services:`, 1)
		err = p.Reload(parseConfig(t, next))
		require.ErrorContains(t, err, "sslrootcert")

		assert.ElementsMatch(t, before, p.Pools(), "the running pools serve on")
		assert.Equal(t, 30*time.Second, tight.Settings().PoolTimeout)
		synctest.Wait()
		for _, b := range proto.openedFor("fresh") {
			assert.True(t, b.closed.Load(), "a server connection of the pool built for the failed reload is open")
		}
	})
}

// writeCert writes a new self-signed certificate and its key to cert and key.
func writeCert(t *testing.T, cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "motorpool test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
}

// TestReloadKeepsVerifiedTLSPools: a pool whose server connections verify
// certificates (sslrootcert, a client certificate) carries over a reload that does
// not change it, and takes live changes in place; new certificate files build a new
// pool.
func TestReloadKeepsVerifiedTLSPools(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root, cert, key := filepath.Join(dir, "root.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	writeCert(t, root, filepath.Join(dir, "root.key"))
	writeCert(t, cert, key)
	yaml := func(extra string) string {
		return `
auth: { users: { app: { password: x } } }
databases:
	secure: { url: "postgresql://app:pw@127.0.0.1:1/secure?sslmode=verify-ca&sslrootcert=` + root +
			`&sslcert=` + cert + `&sslkey=` + key + `"` + extra + ` }
`
	}
	p := newStubProxy(t, yaml(""), nil)
	secure := poolNamed(p, "secure")
	require.NotNil(t, secure)
	require.NotNil(t, secure.Target.TLS.VerifyConnection)

	require.NoError(t, p.Reload(parseConfig(t, yaml(""))))
	assert.Same(t, secure, poolNamed(p, "secure"), "unchanged")
	require.NoError(t, p.Reload(parseConfig(t, yaml(", pool_timeout: 5s"))))
	assert.Same(t, secure, poolNamed(p, "secure"), "pool_timeout changed")
	assert.Equal(t, 5*time.Second, secure.Settings().PoolTimeout)

	writeCert(t, root, filepath.Join(dir, "root.key"))
	require.NoError(t, p.Reload(parseConfig(t, yaml(", pool_timeout: 5s"))))
	assert.NotSame(t, secure, poolNamed(p, "secure"), "new root certificate")
}

// TestReloadSealsTheOldRegistry: after a reload the old routing table takes no new
// pools (a client that loaded it just before routes again, through the new one), and
// pools clients built in it while the reload ran are retired with the rest.
func TestReloadSealsTheOldRegistry(t *testing.T) {
	t.Parallel()
	yaml := `
		auth: { type: trust }
		databases:
			shop: { url: "postgresql://127.0.0.1:1/shop" }
	`
	p := newStubProxy(t, yaml, nil)
	old := p.reg.Load()
	db := old.cfg.Database("shop")
	before, err := old.poolFor(p, db, RouteRequest{Database: "shop", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Reload(parseConfig(t, yaml)); err != nil {
		t.Fatal(err)
	}
	if _, err := old.poolFor(p, db, RouteRequest{Database: "shop", User: "bob"}); !errors.Is(err, errStaleRegistry) {
		t.Fatalf("a pool built in the replaced registry: %v", err)
	}
	// A pool built in the old registry after the reload copied it (simulated:
	// added behind the reload's back) is retired by seal.
	stray := &Pool{Name: "shop.carol"}
	other := &registry{pools: map[string]*Pool{"a": before, "b": stray}}
	got := other.seal(map[*Pool]bool{before: true})
	if len(got) != 1 || got[0] != stray {
		t.Fatalf("seal retired %v, want the stray pool only", got)
	}
}

// TestReloadDuringLogin: a client routed before a reload that replaces its pool, and
// authenticated after it, gets a session on the new pool; the old one closed at the
// reload, having no session.
func TestReloadDuringLogin(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, reloadBefore, nil)
	old := poolNamed(p, "shop/reports")
	require.NotNil(t, old)
	c := testClient(t, p)
	rt, err := c.Route(RouteRequest{Database: "shop", User: "analyst"})
	require.NoError(t, err)

	require.NoError(t, p.Reload(parseConfig(t, reloadAfter))) // reports: session mode
	p.bg.Wait()
	require.True(t, closedPool(t, old))

	s, err := rt.Open(c)
	require.NoError(t, err)
	defer s.Close()
	assert.Same(t, poolNamed(p, "shop/reports"), s.Pool())
	assert.Equal(t, ModeSession, s.Mode())
	l, err := s.Acquire(context.Background())
	require.NoError(t, err, "the session's pool is open")
	s.Release(l)
}

// TestReloadForgetsClosedPools: a pool a reload replaced is forgotten once it has
// closed, so that reloads do not pile up retired pools for the life of the process.
func TestReloadForgetsClosedPools(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, reloadBefore, nil)
	for i := range 4 {
		cfg := reloadBefore
		if i%2 == 0 {
			cfg = reloadAfter // reports changes pool mode: a new pool each time
		}
		require.NoError(t, p.Reload(parseConfig(t, cfg)))
	}
	p.bg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.Empty(t, p.retired)
}

// TestReloadListsRetiredPools: a pool a reload replaced stays in Pools, with its
// server connections, while it has sessions, under a name of its own (its
// successor has its name) that its clients are listed with too; once its last
// session ends and it closes, it is no longer listed.
func TestReloadListsRetiredPools(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, reloadBefore, nil)
	reports := poolNamed(p, "shop/reports")
	require.NotNil(t, reports)
	c := testClient(t, p)
	rt, err := c.Route(RouteRequest{Database: "shop", User: "analyst"})
	require.NoError(t, err)
	s, err := rt.Open(c)
	require.NoError(t, err)
	lease, err := s.Acquire(context.Background())
	require.NoError(t, err)

	require.NoError(t, p.Reload(parseConfig(t, reloadAfter))) // reports: session mode
	next := poolNamed(p, "shop/reports")
	require.NotNil(t, next)
	require.NotSame(t, reports, next)
	assert.False(t, next.Retired())
	var old *Pool // gone is retired by the same reload: numbered #1 or #2
	for _, pl := range p.Pools() {
		if strings.HasPrefix(pl.Name, "shop/reports (retired #") {
			require.Nil(t, old, "listed twice")
			old = pl
		}
	}
	require.NotNil(t, old, "the replaced pool is listed while its session lasts")
	assert.True(t, old.Retired())
	assert.Same(t, reports.core, old.Core(), "the same server connections")
	assert.Equal(t, reports.Mode, old.Mode)
	assert.Equal(t, 1, old.Core().Stats().Active)
	names := map[string]bool{}
	for _, pl := range p.Pools() {
		assert.False(t, names[pl.Name], "two pools named %s", pl.Name)
		names[pl.Name] = true
	}
	assert.Equal(t, old.Name, c.Info().Pool)

	s.Release(lease)
	s.Close()
	p.bg.Wait()
	assert.True(t, closedPool(t, reports))
	assert.Nil(t, poolNamed(p, old.Name), "closed: no longer listed")
	assert.Same(t, next, poolNamed(p, "shop/reports"))
}

// TestReloadKeepsListenAddress: a reload that changes listen or admin.listen,
// which need a restart, leaves the addresses in use in Config, so that the next
// reload is compared with them and still reports the change.
func TestReloadKeepsListenAddress(t *testing.T) {
	t.Parallel()
	const yaml = `
		listen: 127.0.0.1:6432
		admin: { listen: 127.0.0.1:8080 }
		auth: { users: { app: { password: x } } }
		databases:
			shop: { url: "postgresql://app:pw@127.0.0.1:1/shop" }
	`
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(b)
	}), nil))
	p, err := New(parseConfig(t, yaml), &stubProto{}, log)
	require.NoError(t, err)
	defer p.Close()
	moved := strings.NewReplacer("6432", "6433", "8080", "8081").Replace(yaml)
	for i := range 2 {
		next := parseConfig(t, moved)
		require.NoError(t, p.Reload(next))
		assert.Equal(t, "127.0.0.1:6432", p.Config().Listen, "reload %d", i+1)
		assert.Equal(t, "127.0.0.1:8080", p.Config().Admin.Listen, "reload %d", i+1)
		assert.Equal(t, "127.0.0.1:6433", next.Listen, "the new configuration is not changed")
		d := config.Diff(p.Config(), parseConfig(t, moved)).String()
		assert.Contains(t, d, "listen 127.0.0.1:6432 -> 127.0.0.1:6433", "after reload %d", i+1)
		assert.Contains(t, d, "admin.listen 127.0.0.1:8080 -> 127.0.0.1:8081", "after reload %d", i+1)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, strings.Count(logs.String(), "listen address changed"), logs.String())
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
