package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/pool"
)

// Proxy accepts client connections, routes them to pools and hands them to the
// protocol adapter.
type Proxy struct {
	proto Protocol
	log   *slog.Logger

	ctx    context.Context    // ends when Close begins; parent of every client's ctx
	cancel context.CancelFunc //
	wg     sync.WaitGroup     // client goroutines
	bg     sync.WaitGroup     // closers of retired and removed pools
	reaper sync.WaitGroup     // reapLoop

	// regMu serializes what replaces the registry or removes pools from it: Reload
	// and the removal of unused per-user pools (reap.go).
	regMu    sync.Mutex
	reg      atomic.Pointer[registry]
	console  atomic.Pointer[Console]
	observer Observer // set before Serve
	ops      ops      // PAUSE, RESUME, KILL (ops.go)
	scaling  scaler   // pool scaling (scaling.go)
	sharing  sharing  // budgets (budget.go); protected by ops.holdMu
	draining atomic.Bool
	closed   atomic.Bool
	nextID   atomic.Uint64
	nclients atomic.Int64

	mu        sync.Mutex // protects the fields below
	listeners []net.Listener
	clients   map[uint64]*Client
	retired   []*Pool // replaced by reloads, closing once their sessions end
	nretired  int     // pools retired so far, numbering their listed names
}

// New returns a proxy for cfg whose clients speak proto. Pools whose server user is
// known are created at once, so their minimum connections warm up.
func New(cfg *config.Config, proto Protocol, log *slog.Logger) (*Proxy, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{proto: proto, log: log, clients: make(map[uint64]*Client)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	reg := &registry{cfg: cfg, pools: make(map[string]*Pool)}
	if err := p.warm(reg); err != nil {
		for _, pl := range reg.all() {
			pl.core.Close(context.Background())
		}
		return nil, err
	}
	p.reg.Store(reg)
	p.regMu.Lock()
	p.warmUpLocked(reg.all()...) // pools under a budget are built cold
	p.regMu.Unlock()
	p.reaper.Add(1)
	go p.reapLoop()
	return p, nil
}

// warm creates the pools of reg that do not depend on the client user.
func (p *Proxy) warm(reg *registry) error {
	for _, db := range reg.cfg.Databases {
		if db.URL.User == "" {
			continue
		}
		specs := []struct {
			key string
			svc *config.Service
		}{{poolKey(db.Name, "", ""), nil}}
		for _, s := range reg.cfg.Services {
			if s.Database == db.Name {
				specs = append(specs, struct {
					key string
					svc *config.Service
				}{poolKey(db.Name, s.Name, ""), s})
			}
		}
		for _, s := range specs {
			if reg.pools[s.key] != nil {
				continue
			}
			pl, err := p.buildPool(reg.specFor(db, s.svc, ""))
			if err != nil {
				return err
			}
			reg.pools[s.key] = pl
		}
	}
	return nil
}

// Config returns the configuration in force.
func (p *Proxy) Config() *config.Config { return p.reg.Load().cfg }

// Pools returns the pools of the configuration in force, and the pools reloads
// replaced that still have sessions or server connections. Those are listed under
// a name of their own, "NAME (retired #N)" (Pool.Retired reports true), so that a
// pool and its successor never share a name.
func (p *Proxy) Pools() []*Pool {
	out := p.reg.Load().all()
	p.mu.Lock()
	retired := slices.Clone(p.retired)
	p.mu.Unlock()
	for _, pl := range retired {
		if pl.sessions.Load() > 0 || pl.core.Stats().Total > 0 {
			out = append(out, pl.listed())
		}
	}
	return out
}

// Clients returns a snapshot of the connected clients.
func (p *Proxy) Clients() []ClientInfo {
	p.mu.Lock()
	cs := make([]*Client, 0, len(p.clients))
	for _, c := range p.clients {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	out := make([]ClientInfo, len(cs))
	for i, c := range cs {
		out[i] = c.Info()
	}
	return out
}

// ClientCounts counts the connected clients by pool (named as in Clients, ""
// while logging in) and state, indexed by ClientState. The monitor samples it
// every second: unlike Clients it formats no address, so that thousands of idle
// clients cost their pools' sampling next to nothing.
func (p *Proxy) ClientCounts() map[string][4]int {
	p.mu.Lock()
	cs := make([]*Client, 0, len(p.clients))
	for _, c := range p.clients {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	out := make(map[string][4]int)
	for _, c := range cs {
		c.mu.Lock()
		name := c.poolNameLocked()
		c.mu.Unlock()
		n := out[name]
		n[c.State()]++
		out[name] = n
	}
	return out
}

// ErrClosed is returned by Serve once the proxy is shut down or closed.
var ErrClosed = errors.New("proxy closed")

// Serve accepts connections on ln until the proxy shuts down, handing each to the
// protocol adapter on its own goroutine. It returns ErrClosed after Shutdown or Close.
func (p *Proxy) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.closed.Load() || p.draining.Load() {
		p.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	p.listeners = append(p.listeners, ln)
	p.mu.Unlock()
	backoff := time.Duration(0)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if p.draining.Load() || p.closed.Load() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTemporary(err)) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				p.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		p.start(conn)
	}
}

// errTemporary returns err itself when it is a resource shortage that passes
// (EMFILE, ENFILE, ECONNABORTED), so that errors.Is matches, and nil otherwise.
func errTemporary(err error) error {
	type temporary interface{ Temporary() bool }
	var t temporary
	if errors.As(err, &t) && t.Temporary() {
		return err
	}
	return nil
}

// start registers a client and runs its adapter.
func (p *Proxy) start(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(true)
	}
	c := newClient(p, p.nextID.Add(1), conn)
	cfg := p.reg.Load().cfg
	if p.nclients.Add(1) > int64(cfg.MaxClientConnections) {
		c.over = true
	}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		p.nclients.Add(-1)
		conn.Close()
		return
	}
	p.clients[c.ID] = c
	p.wg.Add(1)
	p.mu.Unlock()
	go p.serve(c)
}

func (p *Proxy) serve(c *Client) {
	defer p.wg.Done()
	defer func() {
		c.Conn.Close()
		p.mu.Lock()
		delete(p.clients, c.ID)
		p.mu.Unlock()
		p.nclients.Add(-1)
	}()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("client handler panicked", "client", c.ID, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	err := p.proto.Serve(p.ctx, c)
	var pe *PanicError
	var oe OperatorError
	switch {
	case errors.As(err, &pe):
		p.log.Error("client handler panicked", "client", c.ID, "panic", pe.Value, "stack", string(pe.Stack))
	case errors.As(err, &oe):
		p.log.Warn("client refused", "client", c.ID, "remote", c.Conn.RemoteAddr().String(), "err", err)
	case err != nil:
		p.log.Debug("client ended", "client", c.ID, "remote", c.Conn.RemoteAddr().String(), "err", err)
	}
}

// Shutdown drains the proxy: it stops accepting, ends clients that hold no server
// connection or are between transactions of a session, lets the others finish their
// transaction, and waits for them until ctx ends; then it closes everything.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.draining.Store(true)
	p.closeListeners()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		busy := 0
		p.mu.Lock()
		for _, c := range p.clients {
			if st := c.State(); st == StateIdle || st == StateLogin || c.between.Load() {
				c.Conn.Close()
			} else {
				busy++
			}
		}
		n := len(p.clients)
		p.mu.Unlock()
		if n == 0 {
			return p.Close()
		}
		select {
		case <-ctx.Done():
			p.log.Warn("shutdown deadline passed; closing busy clients", "busy", busy)
			p.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes the listeners, every client connection and every pool, and waits for
// the proxy's goroutines. It is idempotent.
func (p *Proxy) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.draining.Store(true)
	// A reload under way finishes before the pools are closed; those after it
	// see draining and change nothing.
	p.regMu.Lock()
	p.regMu.Unlock()
	p.closeListeners()
	p.cancel()
	p.mu.Lock()
	for _, c := range p.clients {
		c.Conn.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.reaper.Wait()
	p.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, pl := range p.reg.Load().all() {
		pl.core.Close(ctx)
	}
	p.mu.Lock()
	retired := p.retired
	p.retired = nil
	p.mu.Unlock()
	for _, pl := range retired {
		pl.core.Close(ctx)
	}
	if c, ok := p.proto.(io.Closer); ok {
		c.Close()
	}
	return nil
}

func (p *Proxy) closeListeners() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ln := range p.listeners {
		ln.Close()
	}
	p.listeners = nil
}

// closePool closes a pool with no session left: a retired one, or an unused
// per-user pool. Its leases may still be out (a server connection draining a
// cancelled query); Close waits for them.
func (p *Proxy) closePool(pl *Pool) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
		defer cancel()
		pl.core.Close(ctx)
		p.mu.Lock()
		p.retired = slices.DeleteFunc(p.retired, func(r *Pool) bool { return r == pl })
		p.mu.Unlock()
	}()
}

// poolEvent logs what a pool core reports.
func (p *Proxy) poolEvent(pl *Pool, e pool.Event) {
	attrs := []any{"pool", pl.Name, "conn", e.ConnID}
	switch e.Kind {
	case pool.EventConnCreated:
		p.log.Debug("server connection opened", append(attrs, "took", e.Duration)...)
	case pool.EventConnClosed:
		var pe *PanicError
		if errors.As(e.Err, &pe) {
			p.log.Error("server connection handler panicked", append(attrs, "panic", pe.Value, "stack", string(pe.Stack))...)
			return
		}
		p.log.Debug("server connection closed", append(attrs, "reason", e.Reason.String(), "age", e.Duration, "err", e.Err)...)
	case pool.EventDialFailed:
		p.log.Warn("cannot open server connection", append(attrs, "attempt", e.Attempt, "retry_in", e.Duration, "err", e.Err)...)
	case pool.EventAcquireFailed:
		p.log.Warn("client got no server connection", "pool", pl.Name, "client", e.Holder, "waited", e.Duration, "err", e.Err)
	case pool.EventLeakDetected:
		p.log.Warn("server connection held unusually long", append(attrs, "holder", e.Holder, "held", e.Duration)...)
	case pool.EventLeakReleased:
		p.log.Info("long-held server connection released", append(attrs, "holder", e.Holder, "held", e.Duration)...)
	case pool.EventValidationFailed:
		p.log.Warn("server connection failed validation", append(attrs, "err", e.Err)...)
	}
}
