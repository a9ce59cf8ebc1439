package scale_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/motorpool/motorpool/pool"
	"github.com/motorpool/motorpool/scale"
)

// Example sizes an in-process pool from its load, as motorpool's proxy does:
// once a second, a sample of the pool's statistics; over the last 10 seconds,
// the rules' decision, applied with Resize.
func Example() {
	p, err := pool.New(pool.Config[net.Conn]{
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", "127.0.0.1:5432")
		},
		MaxSize: 20,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())

	rules := scale.NewRules(
		scale.Rule{Trigger: scale.HighUtilization, Threshold: 0.8, Action: scale.ScaleUp, Step: 5, Cooldown: time.Minute},
		scale.Rule{Trigger: scale.HighUtilization, Threshold: 0.3, Below: true, Action: scale.ScaleDown, Step: 3, Cooldown: 5 * time.Minute},
	)
	bounds := scale.Bounds{Floor: 2, Ceiling: 20}
	size := 20
	var window []scale.Sample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for now := range tick.C {
		st := p.Stats()
		window = append(window, scale.Sample{At: st.At, ActiveTime: st.ActiveTime, WaitTime: st.WaitTime,
			Acquired: st.Acquired, Failed: st.AcquireTimeouts + st.AcquireUnreachable, Max: st.Max})
		if len(window) < 11 {
			continue
		}
		window = window[len(window)-11:]
		if d, ok := rules.Decide(now, scale.Between(window[0], window[10]), size, bounds); ok {
			fmt.Println(d.Reason) // utilization 0.12 < 0.30 (rule 2): 20 → 17
			if p.Resize(0, d.To) == nil {
				size = d.To
			}
		}
	}
}
