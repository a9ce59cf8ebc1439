package pg

import (
	"context"
	"errors"
	"sync"
)

// errUserCancel ends a client's wait for a server connection when the client sends a
// CancelRequest meanwhile: its statement has not started, so it fails as a cancelled
// one would (57014) and is never sent.
var errUserCancel = errors.New("canceling statement due to user request")

// waitCtx is the context of a logged-in client's waits for a server connection: its
// session's context, ended early by the client's cancel request. It is made once per
// client and armed for each wait, allocating only after a wait was cancelled.
type waitCtx struct {
	context.Context // the session's: Deadline, Value

	mu   sync.Mutex
	done chan struct{}
	err  error
	stop func() bool // stops following the session's context
}

func newWaitCtx(parent context.Context) *waitCtx {
	w := &waitCtx{Context: parent, done: make(chan struct{})}
	w.stop = context.AfterFunc(parent, func() { w.cancel(parent.Err()) })
	return w
}

func (w *waitCtx) Done() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

func (w *waitCtx) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// cancel ends the current wait with err.
func (w *waitCtx) cancel(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.done)
	}
}

// arm readies w for a new wait: a cancel that ended an earlier one, or came between
// waits, is forgotten, as PostgreSQL ignores a cancel for a session with nothing
// running. Once the session's context has ended, w stays ended.
func (w *waitCtx) arm() context.Context {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil && w.Context.Err() == nil {
		w.done, w.err = make(chan struct{}), nil
	}
	return w
}
