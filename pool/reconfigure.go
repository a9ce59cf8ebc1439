package pool

import "time"

// Settings are the Config fields that Reconfigure changes on a running pool.
// Each means what the Config field of the same name means, zero (the
// default) and negative values included; Config.Settings extracts them.
type Settings struct {
	MinSize, MaxSize                int
	AcquireTimeout, ConnectTimeout  time.Duration
	IdleTimeout                     time.Duration
	MaxLifetime, MaxLifetimeJitter  time.Duration
	ValidationTimeout, ResetTimeout time.Duration
	MaxConnecting                   int
}

// Reconfigure replaces the pool's Settings at runtime, keeping its
// connections, leases and waiters. It returns an error, changing nothing, if
// s would be invalid in a Config, and ErrClosed on a closed pool. Zero values
// mean the defaults, as in Config. The limit set by SetLimit stays.
//
// The sizes change as with Resize. IdleTimeout applies at once, to the
// connections already idle too. AcquireTimeout and ConnectTimeout apply to
// acquires that start waiting afterwards: acquirers already waiting keep the
// bounds they started with (but a failed dial fails those that have waited
// the new ConnectTimeout). MaxLifetime and its jitter apply to connections
// opened afterwards, so that lowering it does not retire every connection at
// once; existing ones keep the expiry drawn when they opened. MaxConnecting
// applies to the next dial started, dials in flight going on; ValidationTimeout
// and ResetTimeout apply to the next Validate and Reset.
func (p *Pool[C]) Reconfigure(s Settings) error {
	now := p.clock.read()
	p.mu.Lock()
	defer p.unlock()
	next := p.cfg
	next.setSettings(s)
	next, err := next.withDefaults()
	if err != nil {
		return err
	}
	if p.closed {
		return ErrClosed
	}
	if next.AcquireTimeout != p.cfg.AcquireTimeout || next.ConnectTimeout != p.cfg.ConnectTimeout {
		p.oldBounds = p.st.waits // the waiters so far may be due in any order
	}
	p.cfg.setSettings(next.Settings())
	p.minSize, p.maxSize = next.MinSize, next.MaxSize
	p.applySizeLocked(now) // also reschedules the maintainer, for IdleTimeout
	return nil
}

// Settings returns c's fields that Reconfigure changes, as given (before
// defaults), so that a caller can change one of them:
//
//	s := cfg.Settings()
//	s.AcquireTimeout = 5 * time.Second
//	err := p.Reconfigure(s)
func (c Config[C]) Settings() Settings {
	return Settings{
		MinSize: c.MinSize, MaxSize: c.MaxSize,
		AcquireTimeout: c.AcquireTimeout, ConnectTimeout: c.ConnectTimeout,
		IdleTimeout: c.IdleTimeout,
		MaxLifetime: c.MaxLifetime, MaxLifetimeJitter: c.MaxLifetimeJitter,
		ValidationTimeout: c.ValidationTimeout, ResetTimeout: c.ResetTimeout,
		MaxConnecting: c.MaxConnecting,
	}
}

// setSettings sets c's fields that Reconfigure changes, and only those: the
// pool's others are read without its lock.
func (c *Config[C]) setSettings(s Settings) {
	c.MinSize, c.MaxSize = s.MinSize, s.MaxSize
	c.AcquireTimeout, c.ConnectTimeout = s.AcquireTimeout, s.ConnectTimeout
	c.IdleTimeout = s.IdleTimeout
	c.MaxLifetime, c.MaxLifetimeJitter = s.MaxLifetime, s.MaxLifetimeJitter
	c.ValidationTimeout, c.ResetTimeout = s.ValidationTimeout, s.ResetTimeout
	c.MaxConnecting = s.MaxConnecting
}
