package admin

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
)

// idleProto keeps every client connected, logging in, until the proxy closes.
type idleProto struct {
	fakeProto
	started chan struct{}
}

func (p idleProto) Serve(ctx context.Context, c *proxy.Client) error {
	p.started <- struct{}{}
	<-ctx.Done()
	return nil
}

// The monitor samples every pool every second; idle clients must not make
// that sampling cost more: it counts clients, and lists none of them.
func TestSamplingCostsNothingPerIdleClient(t *testing.T) {
	cfg, err := config.Parse("test.yaml", []byte(`
auth: { users: { app: { password: x } } }
databases:
  shop: { url: "postgresql://app:pw@127.0.0.1:1/shop?connection_limit=4" }
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	proto := idleProto{started: make(chan struct{}, 200)}
	px, err := proxy.New(cfg, proto, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go px.Serve(ln)
	a := New(Options{Proxy: px, Monitor: monitor.New(monitor.Options{}), Version: "test"})

	connect := func(n int) {
		for range n {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			<-proto.started
		}
	}
	allocs := func() float64 {
		return testing.AllocsPerRun(20, func() { a.Sample(time.Now(), nil) })
	}
	connect(1)
	one := allocs()
	connect(150)
	many := allocs()
	if many-one >= 150 {
		t.Errorf("sampling allocates %.0f times with 1 client, %.0f with 151: at least once per client", one, many)
	}
	if n := px.ClientCounts()[""][proxy.StateLogin]; n != 151 {
		t.Errorf("ClientCounts has %d clients logging in; want 151", n)
	}
}
