package proxy

import "time"

// Observer receives the proxy's per-event measurements, for metrics and monitoring.
// The pool they name is the one Proxy.Pools lists (a retired pool under its retired
// name). Its methods are called on hot paths, from many goroutines at once: they must be
// cheap and safe for concurrent use.
type Observer interface {
	// Transaction reports a transaction that ended, timed from sending its first
	// request to the ReadyForQuery that ended it; a statement outside a transaction
	// block is a transaction of its own, in every pool mode.
	Transaction(p *Pool, d time.Duration)
	// Query reports one request answered by the server: a simple query or an
	// extended-protocol batch up to Sync, timed from sending to ReadyForQuery.
	Query(p *Pool, d time.Duration)
	// Traffic reports bytes relayed from clients to servers (in) and back (out).
	Traffic(p *Pool, in, out int)
}

// SetObserver installs the observer. Call it before Serve.
func (p *Proxy) SetObserver(o Observer) { p.observer = o }

// ObserveTransaction reports a transaction that ended; see Observer.Transaction.
func (s *Session) ObserveTransaction(d time.Duration) {
	s.pool.Counters.Transactions.Add(1)
	s.pool.Counters.TxTimeNanos.Add(uint64(max(d, 0)))
	if o := s.client.proxy.observer; o != nil {
		o.Transaction(s.pool.listed(), d)
	}
}

// ObserveQuery reports one request answered by the server; see Observer.Query.
func (s *Session) ObserveQuery(d time.Duration) {
	s.pool.Counters.Queries.Add(1)
	if o := s.client.proxy.observer; o != nil {
		o.Query(s.pool.listed(), d)
	}
}

// ObserveTraffic reports bytes relayed for the session; see Observer.Traffic.
func (s *Session) ObserveTraffic(in, out int) {
	s.pool.Counters.BytesIn.Add(uint64(in))
	s.pool.Counters.BytesOut.Add(uint64(out))
	if o := s.client.proxy.observer; o != nil {
		o.Traffic(s.pool.listed(), in, out)
	}
}
