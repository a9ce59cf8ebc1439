package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultCooldown is a scaling rule's cooldown when none is written.
const DefaultCooldown = 60 * time.Second

var ruleKeys = []string{"trigger", "threshold", "below", "action", "step", "target", "cooldown"}

func (d *decoder) decodeRules(n *yaml.Node, cfg *Config) {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "scaling.rules", "want a list of rules, got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		if r, ok := d.decodeRule(item, fmt.Sprintf("scaling.rules[%d]", i)); ok {
			cfg.Scaling.Rules = append(cfg.Scaling.Rules, r)
		}
	}
}

func (d *decoder) decodeRule(n *yaml.Node, path string) (ScalingRule, bool) {
	r := ScalingRule{Cooldown: DefaultCooldown}
	nerrs := len(d.errs)
	var threshold *yaml.Node
	thresholdKey := ""
	d.mapping(n, path, ruleKeys, func(key string, _, v *yaml.Node) {
		p := join(path, key)
		switch key {
		case "trigger":
			if val, ok := d.scalar(v, p); ok {
				r.Trigger = decodeEnum(d, v, p, val, TriggerHighUtilization, TriggerLongWaitTimes, TriggerQueueBuildup, TriggerErrorSpike)
			}
		case "action":
			if val, ok := d.scalar(v, p); ok {
				r.Action = decodeEnum(d, v, p, val, ScaleUp, ScaleDown, ScaleToTarget)
			}
		case "threshold", "below":
			if threshold != nil {
				d.errorf(v, p, "give threshold (fires above) or below (fires under), not both")
			}
			threshold, thresholdKey, r.Below = v, key, key == "below"
		case "step":
			d.integer(v, p, 1, maxConns, &r.Step)
		case "target":
			d.integer(v, p, 1, maxConns, &r.Target)
		case "cooldown":
			if val, ok := d.scalar(v, p); ok {
				if c, err := durationParser(0, day)("cooldown", val, 0); err != nil {
					d.errorf(v, p, "%v", err)
				} else {
					r.Cooldown = c
				}
			}
		}
	})
	if len(d.errs) > nerrs {
		return r, false
	}
	switch {
	case r.Trigger == "":
		d.errorf(n, path, "trigger is required: one of high_utilization, long_wait_times, queue_buildup or error_spike")
	case r.Action == "":
		d.errorf(n, path, "action is required: one of scale_up, scale_down or scale_to_target")
	case threshold == nil:
		d.errorf(n, path, "threshold (fires above) or below (fires under) is required")
	case r.Action == ScaleToTarget && r.Target == 0:
		d.errorf(n, path, "scale_to_target needs target")
	case r.Action != ScaleToTarget && r.Step == 0:
		d.errorf(n, path, "%s needs step", r.Action)
	default:
		d.threshold(threshold, join(path, thresholdKey), &r)
	}
	return r, len(d.errs) == nerrs
}

// threshold reads a rule's threshold in the unit of its trigger.
func (d *decoder) threshold(n *yaml.Node, path string, r *ScalingRule) {
	val, ok := d.scalar(n, path)
	if !ok {
		return
	}
	switch r.Trigger {
	case TriggerLongWaitTimes:
		w, err := durationParser(0, time.Hour)(lastKey(path), val, 0)
		if err != nil {
			d.errorf(n, path, "%v", err)
		}
		r.Threshold = w.Seconds()
	case TriggerQueueBuildup:
		var q int
		d.integer(n, path, 0, 1000000, &q)
		r.Threshold = float64(q)
	default:
		if d.number(n, path, &r.Threshold) && (r.Threshold < 0 || r.Threshold > 1) {
			d.errorf(n, path, "%s is a ratio between 0 and 1, got %s", r.Trigger, truncate(val, 40))
		}
	}
}

// decodeEnum checks val against the allowed values, recording an error
// with a suggestion when it is none of them.
func decodeEnum[T ~string](d *decoder, n *yaml.Node, path, val string, values ...T) T {
	v, err := enumParser(values...)(lastKey(path), val, 0)
	if err != nil {
		d.errorf(n, path, "%v", err)
	}
	return v
}
