package proxy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refusingProto is a stubProto whose server refuses the user "nosuch".
type refusingProto struct{ stubProto }

var errNoSuchRole = errors.New(`role "nosuch" does not exist`)

func (p *refusingProto) Dial(ctx context.Context, t *Target) (Backend, error) {
	if t.User == "nosuch" {
		return nil, errNoSuchRole
	}
	return p.stubProto.Dial(ctx, t)
}

const perUserYAML = `
auth: { type: trust }
databases:
	shop: { url: "postgresql://127.0.0.1:1/shop?min_connections=1&idle_timeout=60" }
	fixed: { url: "postgresql://app:pw@127.0.0.1:1/fixed?idle_timeout=60" }
`

// TestUserPoolsAreRemovedWhenUnused: a pool built for a client's user (a database
// URL without a user) is removed, and closed, once it has had no session for its
// idle_timeout, and at once when it has no server connection and its dials fail; a
// pool of the configuration stays. The user's next client gets a new pool.
func TestUserPoolsAreRemovedWhenUnused(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p, err := New(parseConfig(t, perUserYAML), &refusingProto{}, nil)
		require.NoError(t, err)
		defer p.Close()

		alice := openSession(t, p, RouteRequest{Database: "shop", User: "alice"})
		pl := alice.Pool()
		fixed := openSession(t, p, RouteRequest{Database: "fixed", User: "app"})
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		assert.Same(t, pl, poolNamed(p, "shop.alice"), "a pool with a session stays")
		alice.Close()
		fixed.Close()

		time.Sleep(59 * time.Second)
		synctest.Wait()
		assert.Same(t, pl, poolNamed(p, "shop.alice"), "idle for less than idle_timeout")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Nil(t, poolNamed(p, "shop.alice"), "idle for idle_timeout")
		assert.True(t, closedPool(t, pl))
		assert.NotNil(t, poolNamed(p, "fixed"), "a configured pool stays")

		again := openSession(t, p, RouteRequest{Database: "shop", User: "alice"})
		assert.NotSame(t, pl, again.Pool())
		assert.Same(t, again.Pool(), poolNamed(p, "shop.alice"))
		l, err := again.Acquire(context.Background())
		require.NoError(t, err)
		again.Release(l)
		again.Close()

		refused := openSession(t, p, RouteRequest{Database: "shop", User: "nosuch"})
		bad := refused.Pool()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Error(t, bad.core.Stats().LastDialError)
		assert.Same(t, bad, poolNamed(p, "shop.nosuch"), "a pool with a session stays, failing or not")
		refused.Close()
		time.Sleep(2 * reapPeriod)
		synctest.Wait()
		assert.Nil(t, poolNamed(p, "shop.nosuch"), "a pool whose dials fail goes with its last session")
		assert.True(t, closedPool(t, bad))
	})
}

// TestUserPoolRemovalRacesLogin: clients of one user log in and out while the
// user's pool is removed again and again; every session gets an open pool, the one
// the registry holds.
func TestUserPoolRemovalRacesLogin(t *testing.T) {
	t.Parallel()
	p := newStubProxy(t, perUserYAML, nil)
	stop := make(chan struct{})
	var reaper sync.WaitGroup
	reaper.Add(1)
	removed := 0
	go func() {
		defer reaper.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			before := p.reg.Load().all()
			p.reap(time.Now().Add(time.Hour))
			if len(p.reg.Load().all()) < len(before) {
				removed++
			}
		}
	}()
	var clients sync.WaitGroup
	for range 4 {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for range 300 {
				s := openSession(t, p, RouteRequest{Database: "shop", User: "alice"})
				if !assert.Same(t, s.Pool(), poolNamed(p, "shop.alice"), "a session's pool was removed under it") {
					s.Close()
					return
				}
				l, err := s.Acquire(context.Background())
				if !assert.NoError(t, err, "a session's pool was closed under it") {
					s.Close()
					return
				}
				s.Release(l)
				s.Close()
			}
		}()
	}
	clients.Wait()
	close(stop)
	reaper.Wait()
	t.Logf("the pool was removed %d times", removed)
	assert.Positive(t, removed)
}
