package proxy

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lookupBroke is an end of a client that the operator must fix.
type lookupBroke struct{}

func (lookupBroke) Error() string  { return "authentication lookup failed: wrong auth user password" }
func (lookupBroke) OperatorError() {}

// TestOperatorErrorsAreWarnings: a client ended by an OperatorError is logged as a
// warning; a client ended by its own doing only at debug level.
func TestOperatorErrorsAreWarnings(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(b)
	}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	served := make(chan struct{}, 2)
	errs := []error{context.Canceled, lookupBroke{}}
	proto := &stubProto{serve: func(ctx context.Context, c *Client) error {
		defer func() { served <- struct{}{} }()
		return errs[c.ID-1]
	}}
	p, err := New(parseConfig(t, "databases:\n\tshop: { url: \"postgresql://app:pw@127.0.0.1:1/shop\" }\n"), proto, log)
	require.NoError(t, err)
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go p.Serve(ln)
	for range errs {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		select {
		case <-served:
		case <-time.After(time.Minute):
			t.Fatal("the client was not served")
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		out := logs.String()
		mu.Unlock()
		if strings.Contains(out, "client refused") {
			require.Contains(t, out, "level=WARN")
			require.Contains(t, out, "wrong auth user password")
			require.Equal(t, 1, strings.Count(out, "\n"), "only the operator's error is logged at info level and above:\n%s", out)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no warning logged:\n%s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
