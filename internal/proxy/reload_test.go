package proxy

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/pool"
)

const reloadBefore = `
auth: { users: { app: { password: x }, analyst: { password: y } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=5" }
	keep: { url: "postgresql://app:pw@127.0.0.1:1/keep?connection_limit=3" }
	gone: { url: "postgresql://app:pw@127.0.0.1:1/gone" }
services:
	reports: { database: shop, match: { user: analyst }, pool_mode: transaction }
`

const reloadAfter = `
auth: { users: { app: { password: x }, analyst: { password: y } } }
databases:
	shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=8" }
	keep: { url: "postgresql://app:pw@127.0.0.1:1/keep?connection_limit=3" }
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

// TestReload: pools whose settings did not change carry over, a pool whose size
// alone changed is resized in place, any other change builds a new pool for new
// sessions while the old one serves its sessions to the end and then closes, and a
// pool whose database is gone closes.
func TestReload(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, reloadBefore, nil)
	shop, keep, gone, reports := poolNamed(p, "shop"), poolNamed(p, "keep"), poolNamed(p, "gone"), poolNamed(p, "shop/reports")
	require.NotNil(t, shop)
	require.NotNil(t, keep)
	require.NotNil(t, gone)
	require.NotNil(t, reports)

	analyst := testClient(t, p)
	rt, err := analyst.Route(RouteRequest{Database: "shop", User: "analyst"})
	require.NoError(t, err)
	require.Same(t, reports, rt.Pool)
	s, err := rt.Open(analyst)
	require.NoError(t, err)
	lease, err := s.Acquire(context.Background())
	require.NoError(t, err)

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
		rt, err := testClient(t, p).Route(RouteRequest{Database: "shop", User: "app", Application: "gw-1"})
		require.NoError(t, err)
		assert.Same(t, gw, rt.Pool)
	})
	t.Run("a changed pool is replaced for new sessions", func(t *testing.T) {
		next := poolNamed(p, "shop/reports")
		require.NotNil(t, next)
		assert.NotSame(t, reports, next)
		assert.Equal(t, ModeSession, next.Mode)
		rt, err := testClient(t, p).Route(RouteRequest{Database: "shop", User: "analyst"})
		require.NoError(t, err)
		assert.Same(t, next, rt.Pool)
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
	rt, err = testClient(t, p).Route(RouteRequest{Database: "shop", User: "analyst"})
	require.NoError(t, err)
	assert.Equal(t, "shop", rt.Pool.Name, "the reports service is gone")
}
