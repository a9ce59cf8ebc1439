package demo

import (
	"context"
	"io"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motorpool/motorpool/internal/proxy"
)

// Options configure Run. Addr is required; the zero value of every other
// field has a default.
type Options struct {
	// Addr is the host:port of the running motorpool.
	Addr string
	// Database, User and Password are the clients' login. Empty means
	// Database, User and Password of this package.
	Database, User, Password string
	// Pools returns motorpool's pools, for the live lines and the wait
	// statistics of the summary; nil leaves both out. A service's pool is
	// the one whose Service is the service's Name.
	Pools func() []*proxy.Pool
	// Services are the simulated services. Nil means Services().
	Services []Service
	// Duration is how long the workload runs. Zero means 45s.
	Duration time.Duration
	// Grace is how long clients may take to finish their round once the
	// workload ends; then their work is cancelled. Zero means 5s.
	Grace time.Duration
	// Every is the time between two live reports. Zero means 5s.
	Every time.Duration
	// Out receives the live reports; nil means none.
	Out io.Writer
}

func (o Options) withDefaults() Options {
	if o.Database == "" {
		o.Database = Database
	}
	if o.User == "" {
		o.User, o.Password = User, Password
	}
	if o.Services == nil {
		o.Services = Services()
	}
	if o.Duration <= 0 {
		o.Duration = 45 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// URL returns a connection URL for user logging in to database at addr,
// the form to give psql.
func URL(addr, user, password, database string) string {
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(user, password), Host: addr, Path: "/" + database}
	return u.String()
}

// DSN is URL for a client of service app (an application_name; "" for
// none), without TLS.
func DSN(addr, user, password, database, app string) string {
	q := url.Values{"sslmode": {"disable"}}
	if app != "" {
		q.Set("application_name", app)
	}
	return URL(addr, user, password, database) + "?" + q.Encode()
}

// tally is what a service's clients did. Its counters are updated by the
// clients and read by the reporter.
type tally struct {
	transactions atomic.Uint64
	errors       atomic.Uint64

	mu        sync.Mutex // protects firstErrs
	firstErrs []string   // the first few distinct error messages
}

func (t *tally) fail(err error) {
	t.errors.Add(1)
	msg := err.Error()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.firstErrs {
		if m == msg {
			return
		}
	}
	if len(t.firstErrs) < 3 {
		t.firstErrs = append(t.firstErrs, msg)
	}
}

// client is one simulated client connection of a service.
type client struct {
	svc   *Service
	dsn   string
	start time.Time // when the workload began; periodic services align on it
	rng   *rand.Rand
	conn  *pgx.Conn // nil until connected; replaced once closed (see connect)
	tally *tally
}

// Run drives the services' workload through motorpool at o.Addr until
// o.Duration has passed or ctx ends, whichever comes first, printing a live
// report to o.Out every o.Every. Then each client finishes its round (for at
// most o.Grace) and closes its connection. Run returns once every client and
// the reporter have stopped. Errors of the workload are counted in the
// summary, not returned.
func Run(ctx context.Context, o Options) *Summary {
	o = o.withDefaults()
	start := time.Now()

	stop := make(chan struct{})                                  // ends the clients' loops
	work, cancelWork := context.WithCancel(context.Background()) // ends their requests
	defer cancelWork()
	tallies := make([]*tally, len(o.Services))
	for i := range tallies {
		tallies[i] = &tally{}
	}
	rep := newReporter(o, start, tallies)
	var wg sync.WaitGroup
	for i := range o.Services {
		svc := &o.Services[i]
		dsn := DSN(o.Addr, o.User, o.Password, o.Database, svc.Name)
		for range svc.Clients {
			c := &client{svc: svc, dsn: dsn, start: start, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), tally: tallies[i]}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.loop(work, stop)
			}()
		}
	}
	clientsDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(clientsDone)
	}()

	repDone := make(chan struct{})
	go func() {
		defer close(repDone)
		rep.run(clientsDone)
	}()

	timer := time.NewTimer(o.Duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	close(stop)
	grace := time.NewTimer(o.Grace)
	select {
	case <-clientsDone:
		grace.Stop()
	case <-grace.C:
		cancelWork()
		<-clientsDone
	}
	<-repDone
	return rep.summary(time.Since(start))
}

// loop runs rounds until stop closes.
func (c *client) loop(ctx context.Context, stop <-chan struct{}) {
	defer func() {
		if c.conn != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			c.conn.Close(closeCtx)
			cancel()
		}
	}()
	for {
		n, err := 0, c.connect(ctx)
		if err == nil {
			n, err = c.svc.round(ctx, c)
		}
		c.record(ctx, n, err)
		t := time.NewTimer(c.svc.pause(c))
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// connect opens the client's connection unless it is open.
func (c *client) connect(ctx context.Context) error {
	if c.conn != nil && !c.conn.IsClosed() {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, c.dsn)
	if err != nil {
		return err
	}
	c.conn = conn
	return nil
}

// record counts a round's transactions and its error, unless the error comes
// from the demo cancelling the client's work.
func (c *client) record(ctx context.Context, n int, err error) {
	c.tally.transactions.Add(uint64(n))
	if err == nil || ctx.Err() != nil {
		return
	}
	c.tally.fail(err)
}
