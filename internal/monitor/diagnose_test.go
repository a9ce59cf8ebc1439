package monitor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func causes(fs []Finding) []Cause {
	var out []Cause
	for _, f := range fs {
		out = append(out, f.Cause)
	}
	return out
}

func TestDiagnose(t *testing.T) {
	th := DefaultThresholds()
	tx := Settings{Mode: "transaction", ConnectionLimit: 2}
	saturated := Window{Samples: 60, Span: Duration(time.Minute), Utilization: 1, Waiting: 18, WaitingMax: 18, Timeouts: 5,
		Transactions: 100, TxTime: Duration(100 * time.Second), TxMean: Duration(time.Second),
		Queries: 100, QueryTime: Duration(99 * time.Second), QueryMean: Duration(990 * time.Millisecond)}
	tests := []struct {
		name string
		w    Window
		sy   Symptoms
		want []Cause
	}{
		{"nobody waits", Window{Samples: 60, Utilization: 0.5}, Symptoms{Settings: tx}, nil},
		{"pool too small", saturated, Symptoms{Settings: tx}, []Cause{PoolTooSmall}},
		{"utilization at warning is not too small", func() Window { w := saturated; w.Utilization = 0.8; return w }(), Symptoms{Settings: tx}, nil},
		{"unreachable", Window{Samples: 60, Unreachable: 3, ConnErrors: 7, WaitingMax: 4},
			Symptoms{Settings: tx, LastDialError: "connection refused"}, []Cause{DatabaseUnreachable}},
		{"reachable again", Window{Samples: 60, Unreachable: 3, ConnErrors: 7, WaitingMax: 4},
			Symptoms{Settings: tx}, nil},
		{"unreachable while saturated is not too small", func() Window { w := saturated; w.Unreachable = 1; return w }(),
			Symptoms{Settings: tx, LastDialError: "x"}, []Cause{DatabaseUnreachable}},
		{"idle in transaction", func() Window {
			w := saturated
			w.QueryTime, w.QueryMean = Duration(10*time.Second), Duration(100*time.Millisecond)
			return w
		}(), Symptoms{Settings: tx}, []Cause{IdleInTransaction, PoolTooSmall}},
		{"idle gaps are normal in session mode", func() Window {
			w := saturated
			w.QueryTime = Duration(10 * time.Second)
			return w
		}(), Symptoms{Settings: Settings{Mode: "session"}}, []Cause{PoolTooSmall}},
		{"idle sessions hold the connections", func() Window {
			w := saturated
			w.LeaseTime = Duration(120 * time.Second) // 2 connections all minute
			w.Transactions, w.TxTime, w.Queries, w.QueryTime = 2, Duration(time.Millisecond), 2, Duration(time.Millisecond)
			return w
		}(), Symptoms{Settings: Settings{Mode: "session"}}, []Cause{IdleSessions}},
		{"busy sessions", func() Window {
			w := saturated
			w.LeaseTime = Duration(120 * time.Second)
			w.TxTime = Duration(100 * time.Second)
			return w
		}(), Symptoms{Settings: Settings{Mode: "session"}}, []Cause{PoolTooSmall}},
		{"leak by age", Window{Samples: 60, WaitingMax: 1}, Symptoms{Settings: tx, Conns: ConnSummary{OldestLease: 5*time.Minute + time.Second}}, []Cause{ConnectionLeak}},
		{"lease at leak age", Window{Samples: 60, WaitingMax: 1}, Symptoms{Settings: tx, Conns: ConnSummary{OldestLease: 5 * time.Minute}}, nil},
		{"leak reported by the pool", Window{Samples: 60, WaitingMax: 1, Leaks: 1}, Symptoms{Settings: Settings{Mode: "session"}}, []Cause{ConnectionLeak}},
		{"database slower than usual", saturated, Symptoms{Settings: tx, Baseline: Window{Samples: 3600, Queries: 10000, QueryMean: Duration(100 * time.Millisecond), Span: Duration(time.Hour)}},
			[]Cause{PoolTooSmall, DatabaseSlow}},
		{"database as slow as usual", saturated, Symptoms{Settings: tx, Baseline: Window{Samples: 3600, Queries: 10000, QueryMean: Duration(900 * time.Millisecond)}},
			[]Cause{PoolTooSmall}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diagnose(tt.w, tt.sy, th)
			if !slices.Equal(causes(got), tt.want) {
				t.Fatalf("Diagnose = %v, want %v", causes(got), tt.want)
			}
			for _, f := range got {
				if f.Summary == "" || f.Evidence == "" || f.Fix == "" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
		})
	}
}

// sqlError is a dial error that carries a SQLSTATE, as the PostgreSQL adapter's do.
type sqlError string

func (e sqlError) Error() string    { return "server: FATAL " + string(e) }
func (e sqlError) SQLState() string { return string(e) }

// TestUnreachableFixNamesTheRefusal: when the database refuses motorpool's
// connections with a SQLSTATE, the diagnosis says what that refusal means instead of
// suggesting the network.
func TestUnreachableFixNamesTheRefusal(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("dial: %w", sqlError("53300")), "no connection slot left"},
		{sqlError("28P01"), "refuses the user or password"},
		{sqlError("3D000"), "does not exist"},
		{sqlError("57P03"), "starting up"},
		{errors.New("dial tcp 127.0.0.1:1: connection refused"), "network path"},
	} {
		m := New(Options{})
		s := newSim()
		s.r.Stats.LastDialError = c.err
		for range 10 {
			s.r.Stats.ConnectionErrors++
			s.r.Stats.AcquireUnreachable++
			m.Observe(info, s.second(0, 3, 0, 0, 0), s.now)
		}
		r, _ := m.Report("shop")
		if len(r.Diagnosis) == 0 || r.Diagnosis[0].Cause != DatabaseUnreachable {
			t.Fatalf("%v: diagnosis %+v", c.err, r.Diagnosis)
		}
		if !strings.Contains(r.Diagnosis[0].Fix, c.want) {
			t.Errorf("%v: fix %q, want it to say %q", c.err, r.Diagnosis[0].Fix, c.want)
		}
	}
}
