package pool_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/motorpool/motorpool/pool"
)

// fakeConn is a connection to a fakeBackend.
type fakeConn struct {
	id     int
	broken bool // Validate and Reset fail; guarded by fakeBackend.mu
}

// fakeBackend is a database the pool dials: it counts connections and can be
// taken down. Dials, validations and resets take dialDelay, checkDelay and
// resetDelay of (fake) time.
type fakeBackend struct {
	mu         sync.Mutex
	down       error // dials fail with it
	next       int
	open       map[int]*fakeConn
	dials      int
	dialTimes  []time.Time
	validated  int
	resets     int
	dialDelay  time.Duration
	checkDelay time.Duration
	resetDelay time.Duration
	maxOpen    int
}

func newBackend() *fakeBackend { return &fakeBackend{open: map[int]*fakeConn{}} }

func (b *fakeBackend) dial(ctx context.Context) (*fakeConn, error) {
	b.mu.Lock()
	b.dials++
	b.dialTimes = append(b.dialTimes, time.Now())
	delay, down := b.dialDelay, b.down
	b.mu.Unlock()
	if err := sleepCtx(ctx, delay); err != nil {
		return nil, err
	}
	if down != nil {
		return nil, down
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	c := &fakeConn{id: b.next}
	if id, ok := pool.DialConnID(ctx); ok {
		c.id = int(id) // the pool's ID, so that tests can match the two
	}
	b.open[c.id] = c
	b.maxOpen = max(b.maxOpen, len(b.open))
	return c, nil
}

func (b *fakeBackend) close(c *fakeConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.open[c.id]; !ok {
		panic(fmt.Sprintf("fake conn %d closed twice", c.id))
	}
	delete(b.open, c.id)
}

var errBroken = errors.New("fake: connection broken")

func (b *fakeBackend) validate(ctx context.Context, c *fakeConn) error {
	if err := sleepCtx(ctx, b.checkDelay); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.validated++
	if c.broken {
		return errBroken
	}
	return nil
}

func (b *fakeBackend) reset(ctx context.Context, c *fakeConn) error {
	if err := sleepCtx(ctx, b.resetDelay); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.resets++
	if c.broken {
		return errBroken
	}
	return nil
}

func (b *fakeBackend) setDown(err error) {
	b.mu.Lock()
	b.down = err
	b.mu.Unlock()
}

func (b *fakeBackend) breakConn(id int) {
	b.mu.Lock()
	b.open[id].broken = true
	b.mu.Unlock()
}

func (b *fakeBackend) isOpen(c *fakeConn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open[c.id] == c
}

func (b *fakeBackend) openCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.open)
}

func (b *fakeBackend) dialCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dials
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// config returns a Config for b with small, round numbers; tests adjust it.
func (b *fakeBackend) config() pool.Config[*fakeConn] {
	return pool.Config[*fakeConn]{
		Dial:              b.dial,
		Close:             b.close,
		MaxSize:           4,
		AcquireTimeout:    30 * time.Second,
		ConnectTimeout:    5 * time.Second,
		IdleTimeout:       10 * time.Minute,
		MaxLifetime:       time.Hour,
		MaxLifetimeJitter: -1,
		DialBackoffMin:    time.Second,
		DialBackoffMax:    8 * time.Second,
	}
}

// events collects a pool's events.
type events struct {
	mu  sync.Mutex
	evs []pool.Event
}

func (e *events) hook(ev pool.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) of(kind pool.EventKind) []pool.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []pool.Event
	for _, ev := range e.evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func newPool(t *testing.T, cfg pool.Config[*fakeConn]) *pool.Pool[*fakeConn] {
	t.Helper()
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// closePool closes p, expecting every lease to have ended. A failed test may
// leave leases behind; the deadline then cuts them short instead of hanging.
func closePool(t *testing.T, p *pool.Pool[*fakeConn]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 24*time.Hour)
	defer cancel()
	if err := p.Close(ctx); err != nil && !t.Failed() {
		t.Errorf("Close: %v", err)
	}
}

func mustAcquire(t *testing.T, p *pool.Pool[*fakeConn], holder string) pool.Lease[*fakeConn] {
	t.Helper()
	l, err := p.AcquireAs(context.Background(), holder)
	if err != nil {
		t.Fatalf("AcquireAs(%q): %v", holder, err)
	}
	return l
}

// acquireResult is the outcome of an acquire started with goAcquire.
type acquireResult struct {
	lease pool.Lease[*fakeConn]
	err   error
}

// goAcquire starts an acquire on its own goroutine and returns where its
// result will arrive.
func goAcquire(ctx context.Context, p *pool.Pool[*fakeConn], holder string) <-chan acquireResult {
	ch := make(chan acquireResult, 1)
	go func() {
		l, err := p.AcquireAs(ctx, holder)
		ch <- acquireResult{l, err}
	}()
	return ch
}

// ready returns the result if the acquire has finished.
func ready(ch <-chan acquireResult) (acquireResult, bool) {
	select {
	case r := <-ch:
		return r, true
	default:
		return acquireResult{}, false
	}
}

// panics reports whether f panics.
func panics(f func()) (did bool) {
	defer func() { did = recover() != nil }()
	f()
	return false
}

func acquireError(t *testing.T, err error) *pool.AcquireError {
	t.Helper()
	var ae *pool.AcquireError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AcquireError", err, err)
	}
	return ae
}
