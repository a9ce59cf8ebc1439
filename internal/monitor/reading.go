package monitor

import (
	"time"

	"github.com/motorpool/motorpool/pool"
)

// Reading is everything the sampler reads about one pool at one moment.
// Counters are cumulative since the pool was created; the monitor subtracts
// consecutive readings.
type Reading struct {
	// Stats is the pool core's snapshot.
	Stats pool.Stats
	// Traffic are the proxy's counters for the pool.
	Traffic Traffic
	// Clients counts the pool's client connections by state.
	Clients Clients
	// Conns summarizes the pool's server connections (from pool.Conns).
	Conns ConnSummary
	// Settings are the pool's settings in force.
	Settings Settings
}

// Traffic are a pool's cumulative traffic counters.
type Traffic struct {
	Transactions uint64        // leases ended
	TxTime       time.Duration // time leases were held, in total
	Queries      uint64        // requests answered by servers
	QueryTime    time.Duration // time those requests took, in total
	BytesIn      uint64        // client to server
	BytesOut     uint64        // server to client
}

// Clients counts client connections of a pool by state.
type Clients struct {
	Active  int // holding a server connection
	Waiting int // waiting for one
	Idle    int // logged in, holding none
}

// ConnSummary describes a pool's open server connections.
type ConnSummary struct {
	// MeanAge is the mean age of the open connections; 0 when none is open.
	MeanAge time.Duration
	// OldestLease is how long the longest current lease has lasted.
	OldestLease time.Duration
	// Leaked counts leases currently held longer than the leak threshold.
	Leaked int
}

// Settings are the pool settings the rules compare against and recommend
// changes to.
type Settings struct {
	Mode            string        // session, transaction or statement
	ConnectionLimit int           // configured maximum server connections
	PoolTimeout     time.Duration // how long a client waits for a connection
	MaxLifetime     time.Duration // 0: connections live for ever
}

// Summarize builds a ConnSummary from a connection listing.
func Summarize(conns []pool.ConnInfo) ConnSummary {
	var s ConnSummary
	var ages time.Duration
	n := 0
	for _, c := range conns {
		switch c.State {
		case pool.StateCreating, pool.StateDestroying:
			continue
		case pool.StateActive:
			s.OldestLease = max(s.OldestLease, c.Held)
			if c.Leaked {
				s.Leaked++
			}
		}
		ages += c.Age
		n++
	}
	if n > 0 {
		s.MeanAge = ages / time.Duration(n)
	}
	return s
}
