package pool_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/puddle/v2"

	"github.com/motorpool/motorpool/pool"
)

// The benchmarks compare motorpool with jackc/puddle/v2 and database/sql (on a
// no-op driver) in one table: acquire+release of a no-op connection, for pool
// sizes 1, 8 and 64 and parallelism 1, 2, 8 and 64 (goroutines =
// parallelism × GOMAXPROCS). Every pool is filled before timing starts. Each
// result also reports cpu-ns/op, the process CPU time per operation, which a
// busy machine disturbs less than wall time.
//
//	go test -run '^$' -bench . -benchmem -count 3 ./pool

type benchConn struct{ id int64 }

// benchPool is the common shape of the pools compared.
type benchPool interface {
	acquireRelease(ctx context.Context) error
	close()
}

var benchImpls = []struct {
	name string
	open func(size int) (benchPool, error)
}{
	{"motorpool", openMotorpool},
	{"puddle", openPuddle},
	{"sql", openSQL},
}

func BenchmarkAcquireRelease(b *testing.B) {
	for _, size := range []int{1, 8, 64} {
		for _, par := range []int{1, 2, 8, 64} {
			for _, impl := range benchImpls { // adjacent in time: a noisy machine hits all three alike
				name := fmt.Sprintf("size=%d/par=%d/impl=%s", size, par, impl.name)
				b.Run(name, func(b *testing.B) {
					p, err := impl.open(size)
					if err != nil {
						b.Fatal(err)
					}
					defer p.close()
					ctx := context.Background()
					b.ReportAllocs()
					b.SetParallelism(par)
					cpu := startCPU(b)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := p.acquireRelease(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					})
					cpu.report(b)
				})
			}
		}
	}
}

// BenchmarkUncontended is acquire+release on one goroutine, the cost every
// transaction pays in the proxy's transaction mode.
func BenchmarkUncontended(b *testing.B) {
	for _, impl := range benchImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			p, err := impl.open(8)
			if err != nil {
				b.Fatal(err)
			}
			defer p.close()
			ctx := context.Background()
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				if err := p.acquireRelease(ctx); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// cpuMeter measures the process CPU time a benchmark uses.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	start, ok := cpuTime()
	return cpuMeter{start, ok}
}

// report adds cpu-ns/op: CPU time per operation, all threads of the process
// included.
func (m cpuMeter) report(b *testing.B) {
	end, ok := cpuTime()
	if m.ok && ok && b.N > 0 {
		b.ReportMetric(float64(end-m.start)/float64(b.N), "cpu-ns/op")
	}
}

var benchIDs atomic.Int64

func newBenchConn(context.Context) (*benchConn, error) {
	return &benchConn{id: benchIDs.Add(1)}, nil
}

type motorpoolBench struct{ p *pool.Pool[*benchConn] }

// openMotorpool configures the pool as the proxy would: validation, lifetime,
// idle timeout and leak detection all on.
func openMotorpool(size int) (benchPool, error) {
	p, err := pool.New(pool.Config[*benchConn]{
		Dial:          newBenchConn,
		Close:         func(*benchConn) {},
		Validate:      func(context.Context, *benchConn) error { return nil },
		MaxSize:       size,
		LeakThreshold: time.Minute,
	})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	leases := make([]pool.Lease[*benchConn], size)
	for i := range leases {
		if leases[i], err = p.Acquire(ctx); err != nil {
			return nil, err
		}
	}
	for _, l := range leases {
		l.Release()
	}
	return motorpoolBench{p}, nil
}

func (m motorpoolBench) acquireRelease(ctx context.Context) error {
	l, err := m.p.AcquireAs(ctx, "bench")
	if err != nil {
		return err
	}
	l.Release()
	return nil
}

func (m motorpoolBench) close() { _ = m.p.Close(context.Background()) }

type puddleBench struct{ p *puddle.Pool[*benchConn] }

func openPuddle(size int) (benchPool, error) {
	p, err := puddle.NewPool(&puddle.Config[*benchConn]{
		Constructor: newBenchConn,
		Destructor:  func(*benchConn) {},
		MaxSize:     int32(size),
	})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	res := make([]*puddle.Resource[*benchConn], size)
	for i := range res {
		if res[i], err = p.Acquire(ctx); err != nil {
			return nil, err
		}
	}
	for _, r := range res {
		r.Release()
	}
	return puddleBench{p}, nil
}

func (pb puddleBench) acquireRelease(ctx context.Context) error {
	r, err := pb.p.Acquire(ctx)
	if err != nil {
		return err
	}
	r.Release()
	return nil
}

func (pb puddleBench) close() { pb.p.Close() }

type sqlBench struct{ db *sql.DB }

func openSQL(size int) (benchPool, error) {
	db := sql.OpenDB(nopConnector{})
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	ctx := context.Background()
	conns := make([]*sql.Conn, size)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		conns[i] = c
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return sqlBench{db}, nil
}

func (s sqlBench) acquireRelease(ctx context.Context) error {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

func (s sqlBench) close() { _ = s.db.Close() }

// nopConnector is a database/sql driver whose connections do nothing.
type nopConnector struct{}

func (nopConnector) Connect(context.Context) (driver.Conn, error) { return nopConn{}, nil }
func (nopConnector) Driver() driver.Driver                        { return nopDriver{} }

type nopDriver struct{}

func (nopDriver) Open(string) (driver.Conn, error) { return nopConn{}, nil }

type nopConn struct{}

func (nopConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("nop driver") }
func (nopConn) Close() error                        { return nil }
func (nopConn) Begin() (driver.Tx, error)           { return nil, errors.New("nop driver") }
