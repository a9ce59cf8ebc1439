package pool

import (
	"fmt"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventConnCreated: a dial succeeded. Duration is how long it took.
	EventConnCreated EventKind = iota + 1
	// EventConnClosed: a connection was closed. Reason says why; Err is the
	// cause where there is one (Lease.Destroy's argument, the Reset or
	// Validate error); Duration is the connection's age.
	EventConnClosed
	// EventDialFailed: a dial failed with Err. ConnID is the ID the connection
	// would have had (DialConnID), Attempt counts consecutive failures; Duration is the backoff before the next attempt, 0 if none
	// is wanted.
	EventDialFailed
	// EventAcquireFailed: an acquire timed out. Err is the *AcquireError
	// (FailExhausted or FailUnreachable); Holder is its label; Duration is how
	// long it waited. Canceled acquires and closed pools are not reported.
	EventAcquireFailed
	// EventLeakDetected: a lease has been held longer than LeakThreshold.
	// Holder is its label and Duration how long it has been held.
	EventLeakDetected
	// EventLeakReleased: a lease reported as a leak ended. Duration is how
	// long it was held in all.
	EventLeakReleased
	// EventValidationFailed: Validate failed with Err on an idle connection,
	// which is then closed (EventConnClosed, DestroyValidation). Duration is
	// how long Validate took.
	EventValidationFailed
)

// String returns the kind's name in snake case, e.g. "conn_created".
func (k EventKind) String() string {
	switch k {
	case EventConnCreated:
		return "conn_created"
	case EventConnClosed:
		return "conn_closed"
	case EventDialFailed:
		return "dial_failed"
	case EventAcquireFailed:
		return "acquire_failed"
	case EventLeakDetected:
		return "leak_detected"
	case EventLeakReleased:
		return "leak_released"
	case EventValidationFailed:
		return "validation_failed"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is something the pool reports to Config.OnEvent. Fields that do not
// apply to the Kind are zero.
type Event struct {
	Kind     EventKind
	Time     time.Time // when it happened (10 ms resolution)
	ConnID   uint64    // the connection concerned, as in ConnInfo.ID
	Holder   string    // the lease's holder label
	Reason   DestroyReason
	Err      error
	Duration time.Duration
	Attempt  int
}

// maxPendingEvents bounds the event queue; see Config.OnEvent.
const maxPendingEvents = 4096

// emitLocked queues ev for the dispatcher.
func (p *Pool[C]) emitLocked(ev Event) {
	if p.cfg.OnEvent == nil {
		return
	}
	if p.evOff || len(p.evq) >= maxPendingEvents {
		p.st.eventsDropped++
		return
	}
	ev.Time = p.clock.time(p.clock.now())
	p.evq = append(p.evq, ev)
	select {
	case p.evWake <- struct{}{}:
	default:
	}
}

// dispatch is the event goroutine: it calls OnEvent for queued events, in
// order, without pool locks held, until stopEvents.
func (p *Pool[C]) dispatch() {
	defer close(p.evDone)
	var batch []Event
	for {
		stop := false
		select {
		case <-p.evWake:
		case <-p.evStop:
			stop = true
		}
		p.mu.Lock()
		batch, p.evq = p.evq, batch[:0]
		p.unlock()
		for i := range batch {
			p.cfg.OnEvent(batch[i])
			batch[i] = Event{}
		}
		if stop {
			return
		}
	}
}

// stopEvents delivers the remaining events and stops the dispatcher; later
// events are dropped. Called by Close once the pool's goroutines are done.
func (p *Pool[C]) stopEvents() {
	if p.cfg.OnEvent == nil {
		return
	}
	p.mu.Lock()
	first := !p.evOff
	p.evOff = true
	p.unlock()
	if first {
		close(p.evStop)
	}
	<-p.evDone
}
