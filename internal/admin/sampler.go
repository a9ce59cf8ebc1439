package admin

import (
	"context"
	"time"

	"github.com/motorpool/motorpool/internal/monitor"
	"github.com/motorpool/motorpool/internal/proxy"
	"github.com/motorpool/motorpool/pool"
)

// runSampler feeds the monitor one reading of every pool a second until ctx
// ends.
func (a *Admin) runSampler(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var buf []pool.ConnInfo
	for {
		buf = a.Sample(time.Now(), buf)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sample reads every pool once, as of now, and feeds the monitor; it logs the
// alerts that fire and resolve. buf is reused for connection listings and
// returned. The sampler calls it every second; tests call it directly.
func (a *Admin) Sample(now time.Time, buf []pool.ConnInfo) []pool.ConnInfo {
	pools := a.px.Pools()
	clients := a.px.ClientCounts()
	names := make([]string, 0, len(pools))
	for _, p := range pools {
		names = append(names, p.Name)
		var r monitor.Reading
		r, buf = a.reading(p, clients[p.Name], buf)
		fired, resolved := a.mon.Observe(poolInfo(p), r, now)
		for _, e := range fired {
			a.log.Warn("alert fired", "pool", e.Pool, "alert", e.Type, "level", e.Level, "message", e.Message)
		}
		for _, e := range resolved {
			a.log.Info("alert resolved", "pool", e.Pool, "alert", e.Type, "fired_at", e.FiredAt)
		}
	}
	a.mon.Retain(names)
	a.obs.forget(pools)
	return buf
}

func poolInfo(p *proxy.Pool) monitor.PoolInfo {
	return monitor.PoolInfo{Name: p.Name, Database: p.Database, Service: p.Service, User: p.User, Retired: p.Retired()}
}

// reading gathers what the monitor needs of one pool.
func (a *Admin) reading(p *proxy.Pool, cl [4]int, buf []pool.ConnInfo) (monitor.Reading, []pool.ConnInfo) {
	set := p.Settings()
	buf = p.Core().AppendConns(buf[:0])
	c := &p.Counters
	return monitor.Reading{
		Stats: p.Core().Stats(),
		Traffic: monitor.Traffic{
			Transactions: c.Transactions.Load(), TxTime: time.Duration(c.TxTimeNanos.Load()),
			Queries: c.Queries.Load(), QueryTime: a.obs.QueryTime(p),
			BytesIn: c.BytesIn.Load(), BytesOut: c.BytesOut.Load(),
		},
		Clients: monitor.Clients{Active: cl[proxy.StateActive], Waiting: cl[proxy.StateWaiting], Idle: cl[proxy.StateIdle]},
		Conns:   monitor.Summarize(buf),
		Settings: monitor.Settings{
			Mode: p.Mode.String(), ConnectionLimit: set.ConnectionLimit,
			PoolTimeout: set.PoolTimeout, MaxLifetime: set.MaxLifetime,
		},
	}, buf
}
