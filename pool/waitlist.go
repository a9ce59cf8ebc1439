package pool

import (
	"context"
	"time"
)

// waiter is one acquirer waiting in line. Nodes are recycled through
// Pool.waiterCache, so waiting does not allocate once the pool is warm.
type waiter[C any] struct {
	prev, next *waiter[C] // Pool.mu
	listed     bool       // in Pool.waiters; Pool.mu

	// ready receives one signal once e or err is set (under Pool.mu). Its
	// buffer of one means the sender never blocks.
	ready chan struct{}
	e     *entry[C] // the connection handed over, now leased to this waiter
	err   error     // or why the wait failed

	timer      *time.Timer // AcquireTimeout and ConnectTimeout alarms; owned by the waiting goroutine
	start      int64       // exact clock reading when the wait began
	deadline   int64       // AcquireTimeout passes; 0: none
	checkpoint int64       // ConnectTimeout passes; 0: none or already passed
	holder     string
}

// waitList is the FIFO line of waiters, an intrusive doubly-linked list.
// Protected by Pool.mu.
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
	now := p.clock.read()
	if p.closed {
		err := p.failLocked(FailClosed, ErrClosed, now, now)
		p.mu.Unlock()
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
	p.startDialsLocked()
	p.mu.Unlock()
	return p.wait(ctx, w)
}

func (p *Pool[C]) wait(ctx context.Context, w *waiter[C]) (Lease[C], error) {
	var alarm <-chan time.Time
	if t := w.nextAlarm(); t != 0 {
		w.arm(t - w.start)
		alarm = w.timer.C
	}
	for {
		select {
		case <-w.ready:
			return p.served(w)
		case <-ctx.Done():
			return p.abandon(ctx, w)
		case <-alarm:
		}
		now := p.clock.read()
		p.mu.Lock()
		if !w.listed { // served as the alarm rang
			p.mu.Unlock()
			<-w.ready
			return p.served(w)
		}
		if err := p.alarmLocked(w, now); err != nil {
			p.mu.Unlock()
			p.recycleWaiter(w)
			return Lease[C]{}, err
		}
		p.mu.Unlock()
		if t := w.nextAlarm(); t != 0 {
			w.arm(t - now)
		} else {
			alarm = nil
		}
	}
}

func (w *waiter[C]) nextAlarm() int64 {
	if w.checkpoint != 0 {
		return w.checkpoint
	}
	return w.deadline
}

func (w *waiter[C]) arm(d int64) {
	if w.timer == nil {
		w.timer = time.NewTimer(time.Duration(d))
	} else {
		w.timer.Reset(time.Duration(d))
	}
}

// alarmLocked handles a waiter's alarm: it returns the error the wait ends
// with, or nil to keep waiting until the deadline.
func (p *Pool[C]) alarmLocked(w *waiter[C], now int64) error {
	switch {
	case w.deadline != 0 && now >= w.deadline:
		if p.failingLocked() {
			return p.giveUpLocked(w, FailUnreachable, p.dialing.lastErr, now)
		}
		return p.giveUpLocked(w, FailExhausted, nil, now)
	case w.checkpoint != 0 && now >= w.checkpoint:
		if p.failingLocked() {
			return p.giveUpLocked(w, FailUnreachable, p.dialing.lastErr, now)
		}
		w.checkpoint = 0 // a later failed dial fails this waiter (failFastLocked)
	}
	return nil
}

// served completes a wait that ended with a hand-off or a failure.
func (p *Pool[C]) served(w *waiter[C]) (Lease[C], error) {
	e, err := w.e, w.err
	start := w.start
	p.recycleWaiter(w)
	if err != nil {
		return Lease[C]{}, err
	}
	p.hist.record(since(p.clock.read(), start))
	return Lease[C]{e: e, gen: e.gen.Load()}, nil
}

// abandon ends a wait whose ctx ended. A connection that was handed over at
// the same moment goes back to the pool: ctx wins.
func (p *Pool[C]) abandon(ctx context.Context, w *waiter[C]) (Lease[C], error) {
	now := p.clock.read()
	p.mu.Lock()
	if w.listed {
		err := p.giveUpLocked(w, FailCanceled, ctx.Err(), now)
		p.mu.Unlock()
		p.recycleWaiter(w)
		return Lease[C]{}, err
	}
	p.mu.Unlock()
	<-w.ready
	e, err := w.e, w.err
	if err != nil {
		p.recycleWaiter(w)
		return Lease[C]{}, err
	}
	p.hist.record(since(now, w.start))
	p.mu.Lock()
	p.endLeaseLocked(e, now)
	p.recycleLocked(e, now, false)
	err = p.giveUpLocked(w, FailCanceled, ctx.Err(), now)
	p.checkDrainedLocked()
	p.mu.Unlock()
	p.recycleWaiter(w)
	return Lease[C]{}, err
}

// giveUpLocked takes w out of line if it is there, counts the failure and
// returns the error for it.
func (p *Pool[C]) giveUpLocked(w *waiter[C], reason FailReason, cause error, now int64) *AcquireError {
	if w.listed {
		p.waiters.remove(w)
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
	w.ready <- struct{}{}
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
	defer p.mu.Unlock()
	p.st.canceled++
	return p.failLocked(FailCanceled, ctx.Err(), 0, 0)
}

func (p *Pool[C]) recycleWaiter(w *waiter[C]) {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.e, w.err, w.holder = nil, nil, ""
	p.waiterCache.Put(w)
}
