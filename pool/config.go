package pool

import (
	"context"
	"errors"
	"io"
	"time"
)

// Defaults for the zero values of Config fields.
const (
	DefaultMaxSize           = 10
	DefaultAcquireTimeout    = 30 * time.Second
	DefaultConnectTimeout    = 10 * time.Second
	DefaultIdleTimeout       = 10 * time.Minute
	DefaultMaxLifetime       = time.Hour
	DefaultValidationTimeout = 5 * time.Second
	DefaultValidateIdleAfter = time.Second
	DefaultMaxConnecting     = 2
	DefaultDialBackoffMin    = 100 * time.Millisecond
	DefaultDialBackoffMax    = 5 * time.Second
	DefaultHealthCheckPeriod = time.Second
)

// Config configures a Pool. Only Dial is required. For the durations, zero
// means the documented default and a negative value turns the feature off;
// New applies the defaults in one place (see the Default constants). The
// fields named in Settings can be changed at runtime with Reconfigure.
type Config[C any] struct {
	// Dial opens a connection. It always runs on a pool goroutine, never on an
	// acquirer's: an acquirer that gives up does not cancel the dial, and the
	// connection goes to whoever needs one next. ctx ends when ConnectTimeout
	// passes or the pool closes; Dial must return promptly then. Required.
	Dial func(ctx context.Context) (C, error)

	// Close closes a connection. It runs on a pool goroutine, once per
	// connection, and should not block for long: the connection counts
	// against the maximum until it returns. Nil means: call Close on the
	// connection if C implements io.Closer (ignoring its error), else nothing.
	Close func(conn C)

	// Validate checks that an idle connection still works before an acquirer
	// gets it, when it has been idle longer than ValidateIdleAfter. It runs on
	// the acquirer's goroutine with a ctx that ends at ValidationTimeout, when
	// the acquirer's ctx ends, or when the pool closes. On error the
	// connection is destroyed (DestroyValidation) and the acquirer goes on to
	// another connection or waits, without seeing the error. Nil: no
	// validation.
	Validate func(ctx context.Context, conn C) error

	// Reset cleans a connection after a lease ends with Release (the proxy's
	// session mode sends DISCARD ALL here). It runs on a pool goroutine after
	// Release has returned; the connection counts as validating and is handed
	// to the next acquirer only once Reset returns nil. On error the
	// connection is destroyed (DestroyError). ctx ends at ResetTimeout or when
	// the pool closes. Not called after Lease.Destroy. Nil: no reset, and
	// Release hands the connection on at once.
	Reset func(ctx context.Context, conn C) error

	// MinSize is the number of connections kept open even when idle; the pool
	// dials in the background to reach it, up to the effective maximum. Zero
	// keeps none warm. Negative is an error. Change it at runtime with Resize
	// or Reconfigure.
	MinSize int

	// MaxSize is the most connections the pool opens, counting those being
	// dialed and those being closed. The effective maximum is
	// min(MaxSize, limit), the limit being set by SetLimit. Zero means
	// DefaultMaxSize; negative or below MinSize is an error. Change it at
	// runtime with Resize or Reconfigure.
	MaxSize int

	// AcquireTimeout is the pool's own bound on how long an acquire waits for
	// a connection; the caller's ctx may end it sooner. When it passes the
	// acquire fails with FailExhausted, or FailUnreachable if the last dial
	// failed and the pool is dialing again. A dial that has neither
	// succeeded nor failed yet counts as neither: if AcquireTimeout is
	// shorter than ConnectTimeout, a backend that does not answer at all
	// makes acquires fail with FailExhausted (Active below Max), so keep it
	// longer to have them report FailUnreachable. Zero means
	// DefaultAcquireTimeout; negative means only ctx bounds the wait.
	AcquireTimeout time.Duration

	// ConnectTimeout bounds each Dial. It also bounds how long an acquire
	// waits while dials fail: a waiter that has waited ConnectTimeout while
	// the last dial failed gets FailUnreachable with the dial error instead
	// of waiting out AcquireTimeout. Zero means DefaultConnectTimeout;
	// negative means dials are bounded only by Close and waiters only by
	// AcquireTimeout.
	ConnectTimeout time.Duration

	// IdleTimeout closes a connection that has been idle this long, as long
	// as the pool stays at or above MinSize. Zero means DefaultIdleTimeout;
	// negative keeps idle connections forever.
	IdleTimeout time.Duration

	// MaxLifetime retires a connection this long after it was opened, give or
	// take MaxLifetimeJitter: an idle one is closed, a leased one when its
	// lease ends. Zero means DefaultMaxLifetime; negative means no limit.
	MaxLifetime time.Duration

	// MaxLifetimeJitter spreads retirements: each connection's lifetime is
	// drawn uniformly from MaxLifetime ± MaxLifetimeJitter, so connections
	// opened together are not all replaced together. Zero means
	// MaxLifetime/20; negative means none; it must be below MaxLifetime.
	MaxLifetimeJitter time.Duration

	// ValidationTimeout bounds each Validate call. Zero means
	// DefaultValidationTimeout; negative means no bound of its own.
	ValidationTimeout time.Duration

	// ValidateIdleAfter is how long a connection may sit idle (since its last
	// lease or validation) before Validate runs on it at acquire; recently
	// used connections skip the check. Zero means DefaultValidateIdleAfter;
	// negative turns validation off even when Validate is set. Timestamps on
	// the acquire path have a 10 ms resolution.
	ValidateIdleAfter time.Duration

	// Broken reports, cheaply and without I/O, whether a connection is known to
	// be unusable: its server closed it, say, and the connection's own reader
	// noticed. The maintainer asks it about every idle connection each
	// HealthCheckPeriod and closes those it reports (DestroyError, with cause
	// ErrBroken), so that after a server restart the pool dials back up to
	// MinSize at once, not when acquirers find the dead connections, and Stats
	// count only live ones. It is called under the pool's lock: it must not
	// block or call the pool. Nil: idle connections are not checked (Validate
	// may still find a dead one at acquire).
	Broken func(conn C) bool

	// HealthCheckPeriod is how often idle connections are checked with Broken.
	// Zero means DefaultHealthCheckPeriod; negative turns the checks off.
	HealthCheckPeriod time.Duration

	// ResetTimeout bounds each Reset call. Zero means ValidationTimeout;
	// negative means no bound of its own.
	ResetTimeout time.Duration

	// MaxConnecting is the most dials in flight at once, including dials
	// waiting out a backoff. Zero means DefaultMaxConnecting; negative means
	// no bound other than the maximum size.
	MaxConnecting int

	// DialBackoffMin and DialBackoffMax bound the pause after a failed dial
	// before the next one. The pause doubles with each consecutive failure,
	// starting at DialBackoffMin and capped at DialBackoffMax, and is drawn
	// from [d/2, d] so pools do not retry in step. A successful dial resets
	// it. Zero means DefaultDialBackoffMin / DefaultDialBackoffMax; negative
	// means no pause; Min above Max is an error.
	DialBackoffMin, DialBackoffMax time.Duration

	// LeakThreshold reports a lease held longer than this as a leak: an
	// EventLeakDetected event, Stats.LeaksDetected, and ConnInfo.Leaked. The
	// lease is not touched; when it ends, EventLeakReleased follows. Zero or
	// negative turns leak detection off.
	LeakThreshold time.Duration

	// OnEvent receives the pool's events (connections created and closed,
	// failed dials, failed acquires, leaks, validation failures). It is
	// called on a single pool goroutine, in order, never concurrently with
	// itself and without pool locks held, so it may call Stats or Conns; it
	// must not call Close, which waits for it to return. Events are queued so
	// that a slow OnEvent never blocks the pool; when more than 4096 are
	// pending, new ones are dropped and counted in Stats.EventsDropped. Nil:
	// no events.
	OnEvent func(Event)
}

// withDefaults returns c with zero values replaced by defaults, or an error
// naming the first invalid field.
func (c Config[C]) withDefaults() (Config[C], error) {
	if c.Dial == nil {
		return c, errors.New("pool: Config.Dial is nil")
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if err := checkSizes(c.MinSize, c.MaxSize); err != nil {
		return c, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AcquireTimeout, DefaultAcquireTimeout)
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.MaxLifetime, DefaultMaxLifetime)
	def(&c.ValidationTimeout, DefaultValidationTimeout)
	def(&c.ValidateIdleAfter, DefaultValidateIdleAfter)
	def(&c.ResetTimeout, c.ValidationTimeout)
	def(&c.DialBackoffMin, DefaultDialBackoffMin)
	def(&c.DialBackoffMax, DefaultDialBackoffMax)
	def(&c.HealthCheckPeriod, DefaultHealthCheckPeriod)
	if c.MaxLifetime > 0 {
		def(&c.MaxLifetimeJitter, c.MaxLifetime/20)
		if c.MaxLifetimeJitter >= c.MaxLifetime {
			return c, errors.New("pool: Config.MaxLifetimeJitter must be below MaxLifetime")
		}
	}
	if c.DialBackoffMin > 0 && c.DialBackoffMax > 0 && c.DialBackoffMin > c.DialBackoffMax {
		return c, errors.New("pool: Config.DialBackoffMin is above DialBackoffMax")
	}
	if c.MaxConnecting == 0 {
		c.MaxConnecting = DefaultMaxConnecting
	}
	if c.MaxConnecting < 0 {
		c.MaxConnecting = int(^uint(0) >> 1)
	}
	if c.Close == nil {
		c.Close = func(conn C) {
			if cl, ok := any(conn).(io.Closer); ok {
				_ = cl.Close() // nowhere to report it; set Config.Close to see it
			}
		}
	}
	return c, nil
}

func checkSizes(minSize, maxSize int) error {
	switch {
	case minSize < 0:
		return errors.New("pool: minimum size is negative")
	case maxSize < 1:
		return errors.New("pool: maximum size is below 1")
	case minSize > maxSize:
		return errors.New("pool: minimum size is above maximum size")
	}
	return nil
}
