package pool

import (
	"context"
	"time"
)

// waiter is one acquirer waiting in line. Nodes are recycled through
// Pool.waiterCache, so waiting does not allocate once the pool is warm.
type waiter[C any] struct {
	prev, next *waiter[C] // Pool.mu; next also links Pool.toWake
	listed     bool       // in Pool.waiters; Pool.mu

	// ready receives one signal once e or err is set (under Pool.mu). Its
	// buffer of one means the sender never blocks.
	ready chan struct{}
	e     *entry[C] // the connection handed over, now leased to this waiter
	err   error     // or why the wait failed

	start      int64  // clock reading when the wait began, for its bounds (Pool.mu)
	began      int64  // exact reading just after, for the histogram; the waiter's own
	deadline   int64  // AcquireTimeout passes; 0: none (Pool.mu)
	checkpoint int64  // ConnectTimeout passes; 0: none or passed (Pool.mu)
	seq        uint64 // Pool.st.waits when it joined the line (Pool.mu)
	holder     string
}

// waitList is the FIFO line of waiters, an intrusive doubly-linked list.
// Waiters join only at the back, so the head has waited longest (Stats'
// OldestWait). Protected by Pool.mu.
type waitList[C any] struct {
	head, tail *waiter[C]
	n          int
}

func (l *waitList[C]) front() *waiter[C] { return l.head }

func (l *waitList[C]) pushBack(w *waiter[C]) {
	w.prev, w.next, w.listed = l.tail, nil, true
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.n++
}

func (l *waitList[C]) remove(w *waiter[C]) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next, w.listed = nil, nil, false
	l.n--
}

// waitLocked queues the caller, starts dials if the pool may grow, unlocks
// p.mu and waits.
func (p *Pool[C]) waitLocked(ctx context.Context, holder string) (Lease[C], error) {
	now := p.clock.now() // no system clock read under the lock
	if p.closed {
		err := p.failLocked(FailClosed, ErrClosed, now, now)
		p.unlock()
		return Lease[C]{}, err
	}
	w := p.waiterCache.Get().(*waiter[C])
	w.start, w.holder, w.deadline, w.checkpoint = now, holder, 0, 0
	if t := p.cfg.AcquireTimeout; t > 0 {
		w.deadline = now + int64(t)
	}
	if t := p.cfg.ConnectTimeout; t > 0 && (w.deadline == 0 || now+int64(t) < w.deadline) {
		w.checkpoint = now + int64(t)
	}
	p.waiters.pushBack(w)
	p.st.waits++
	w.seq = p.st.waits
	if t := w.alarm(); t != 0 {
		p.scheduleLocked(t)
	}
	p.startDialsLocked()
	p.unlock()
	w.began = p.clock.read()
	return p.wait(ctx, w)
}

// wait blocks until w is served or fails, or ctx ends. The pool's own bounds
// (AcquireTimeout, ConnectTimeout) are enforced by the maintainer, which fails
// due waiters from the head of the line: no timer per wait.
func (p *Pool[C]) wait(ctx context.Context, w *waiter[C]) (Lease[C], error) {
	done := ctx.Done()
	if done == nil { // context.Background: a plain receive is cheaper than a select
		<-w.ready
		return p.served(w)
	}
	select {
	case <-w.ready:
		return p.served(w)
	case <-ctx.Done():
		return p.abandon(ctx, w)
	}
}

// alarm returns when w's next bound passes, or 0 for none.
func (w *waiter[C]) alarm() int64 {
	if w.checkpoint != 0 {
		return w.checkpoint
	}
	return w.deadline
}

// expireWaitersLocked fails the waiters whose AcquireTimeout has passed, and
// those whose ConnectTimeout has passed while dials fail, and returns when
// the next bound passes. Bounds are start + a fixed timeout, so they grow
// along the line and the scan stops at the first waiter not yet due. Once
// Reconfigure changes a timeout, a waiter may be due before those that joined
// ahead of it, so the scan goes on past every waiter that joined before the
// change.
func (p *Pool[C]) expireWaitersLocked(now int64) int64 {
	next := never
	for w := p.waiters.front(); w != nil; {
		after := w.next
		switch {
		case w.deadline != 0 && now >= w.deadline:
			if p.failingLocked() {
				p.failWaiterLocked(w, FailUnreachable, p.dialing.lastErr, now)
			} else {
				p.failWaiterLocked(w, FailExhausted, nil, now)
			}
		case w.checkpoint != 0 && now >= w.checkpoint:
			if p.failingLocked() {
				p.failWaiterLocked(w, FailUnreachable, p.dialing.lastErr, now)
			} else {
				w.checkpoint = 0 // a later failed dial fails it (failFastLocked)
				if w.deadline != 0 {
					next = min(next, w.deadline)
				}
			}
		default:
			if t := w.alarm(); t != 0 {
				next = min(next, t)
			}
			if (w.checkpoint != 0 || w.deadline == 0) && w.seq > p.oldBounds {
				return next // later waiters are due later
			}
		}
		w = after
	}
	return next
}

// served completes a wait that ended with a hand-off or a failure.
func (p *Pool[C]) served(w *waiter[C]) (Lease[C], error) {
	e, err, began := w.e, w.err, w.began
	p.recycleWaiter(w)
	if err != nil {
		return Lease[C]{}, err
	}
	p.recordHandOff(since(p.clock.read(), began))
	return Lease[C]{e: e, gen: e.gen}, nil
}

// recordHandOff records the wait of an acquirer that was handed a connection, now
// that it runs: under the lock, so that Stats never sees it counted as an acquire
// that did not wait, nor as no acquire at all.
func (p *Pool[C]) recordHandOff(d time.Duration) {
	p.mu.Lock()
	p.hist.record(d)
	p.st.unrecorded--
	p.unlock()
}

// abandon ends a wait whose ctx ended. A connection that was handed over at
// the same moment goes back to the pool, unless Close has meanwhile cut the
// lease short: ctx wins.
func (p *Pool[C]) abandon(ctx context.Context, w *waiter[C]) (Lease[C], error) {
	now := p.clock.read()
	p.mu.Lock()
	if w.listed {
		err := p.giveUpLocked(w, FailCanceled, ctx.Err(), now)
		p.unlock()
		p.recycleWaiter(w)
		return Lease[C]{}, err
	}
	p.unlock()
	<-w.ready
	e, err := w.e, w.err
	if err != nil {
		p.recycleWaiter(w)
		return Lease[C]{}, err
	}
	p.mu.Lock()
	p.hist.record(since(now, w.began))
	p.st.unrecorded--
	if e.forced {
		p.endForcedLocked(e) // Close cut the lease short and closed the connection
	} else {
		p.endLeaseLocked(e, now)
		p.recycleLocked(e, now, false)
	}
	err = p.giveUpLocked(w, FailCanceled, ctx.Err(), now)
	p.checkDrainedLocked()
	p.unlock()
	p.recycleWaiter(w)
	return Lease[C]{}, err
}

// giveUpLocked takes w out of line if it is there, counts the failure and
// returns the error for it.
func (p *Pool[C]) giveUpLocked(w *waiter[C], reason FailReason, cause error, now int64) *AcquireError {
	if w.listed {
		p.waiters.remove(w)
		p.st.waitSum += max(p.st.endedAt(now)-w.start, 0)
	}
	err := p.failLocked(reason, cause, w.start, now)
	switch reason {
	case FailExhausted:
		p.st.timeouts++
	case FailUnreachable:
		p.st.unreachable++
	case FailCanceled:
		p.st.canceled++
	}
	if reason == FailExhausted || reason == FailUnreachable {
		p.emitLocked(Event{Kind: EventAcquireFailed, Holder: w.holder, Err: err, Duration: err.Waited})
	}
	return err
}

// failWaiterLocked ends w's wait with a failure, on behalf of another goroutine.
func (p *Pool[C]) failWaiterLocked(w *waiter[C], reason FailReason, cause error, now int64) {
	w.err = p.giveUpLocked(w, reason, cause, now)
	p.wakeLocked(w)
}

func (p *Pool[C]) failLocked(reason FailReason, cause error, start, now int64) *AcquireError {
	return &AcquireError{
		Reason:  reason,
		Active:  p.count[StateActive],
		Max:     p.maxLocked(),
		Waiting: p.waiters.n,
		Waited:  since(now, start),
		Err:     cause,
	}
}

func (p *Pool[C]) canceledAtStart(ctx context.Context) error {
	p.mu.Lock()
	defer p.unlock()
	p.st.canceled++
	return p.failLocked(FailCanceled, ctx.Err(), 0, 0)
}

func (p *Pool[C]) recycleWaiter(w *waiter[C]) {
	w.e, w.err, w.holder = nil, nil, ""
	p.waiterCache.Put(w)
}
