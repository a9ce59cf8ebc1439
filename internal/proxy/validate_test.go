package proxy

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// validatingProto dials backends that count their validations and fail them on
// demand.
type validatingProto struct {
	opsProto
	dials atomic.Int64
}

func (p *validatingProto) Dial(ctx context.Context, t *Target) (Backend, error) {
	p.dials.Add(1)
	return &validatingBackend{}, nil
}

type validatingBackend struct {
	opsBackend
	validations atomic.Int64
	dead        atomic.Bool
}

func (b *validatingBackend) Validate(ctx context.Context) error {
	b.validations.Add(1)
	if b.dead.Load() {
		return errors.New("no answer")
	}
	return nil
}

// TestIdleServerConnectionsAreValidated: a server connection idle longer than
// validateIdleAfter is validated before it is handed out; one that fails is closed
// and replaced, unseen by the client. (Not parallel: it changes validateIdleAfter.)
func TestIdleServerConnectionsAreValidated(t *testing.T) {
	defer func(d time.Duration) { validateIdleAfter = d }(validateIdleAfter)
	validateIdleAfter = time.Millisecond
	proto := &validatingProto{}
	_, s, _ := shopSession(t, proto, `
auth: { users: { app: { password: x } } }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=1" }
`)
	acquire := func() *validatingBackend {
		t.Helper()
		l, err := s.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b := l.Backend().(*validatingBackend)
		s.Release(l)
		return b
	}
	first := acquire()
	time.Sleep(20 * time.Millisecond)
	if again := acquire(); again != first || first.validations.Load() != 1 {
		t.Fatalf("after a while idle: same connection %v, %d validations; want the same, validated once", again == first, first.validations.Load())
	}
	first.dead.Store(true)
	time.Sleep(20 * time.Millisecond)
	if next := acquire(); next == first || proto.dials.Load() != 2 {
		t.Fatalf("a connection that fails validation was handed out (dials %d)", proto.dials.Load())
	}
}
