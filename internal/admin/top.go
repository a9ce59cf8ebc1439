package admin

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/motorpool/motorpool/internal/monitor"
)

// ANSI colours of the health statuses in motorpool top.
var statusColor = map[monitor.Status]string{
	monitor.Healthy: "\x1b[32m", monitor.Fair: "\x1b[33m", monitor.Warning: "\x1b[38;5;208m",
	monitor.Critical: "\x1b[1;31m", monitor.Unknown: "\x1b[90m",
}

const ansiReset = "\x1b[0m"

// WriteTop renders one screen of motorpool top: a line per pool with its
// status and key measures, then the alerts, recommendations and diagnosis of
// the pools that have any. color adds ANSI colours.
func WriteTop(w io.Writer, addr string, reports []monitor.Report, now time.Time, color bool) {
	paint := func(s monitor.Status, text string) string {
		if !color {
			return text
		}
		return statusColor[s] + text + ansiReset
	}
	fmt.Fprintf(w, "motorpool top — %s — %s — %s\n\n", addr, now.Format(time.TimeOnly), plural(len(reports), "pool", "pools"))
	fmt.Fprintf(w, "%-24s %-9s %11s %6s %5s %9s %9s %7s %6s  %s\n",
		"POOL", "STATUS", "ACT/IDLE/MAX", "UTIL", "WAIT", "ACQ P95", "ACQ P99", "XACT/S", "ERR%", "ALERTS")
	for _, r := range reports {
		c := r.Current
		var alerts []string
		for _, a := range r.Alerts {
			alerts = append(alerts, string(a.Type))
		}
		fmt.Fprintf(w, "%-24s %s %11s %5.0f%% %5d %9s %9s %7.1f %6.1f  %s\n",
			clip(printable(r.Pool.Name), 24), paint(r.Status, fmt.Sprintf("%-9s", r.Status)),
			fmt.Sprintf("%d/%d/%d", c.Active, c.Idle, c.Max), c.Utilization*100, c.Waiting,
			r.Performance.AcquireP95, r.Performance.AcquireP99, r.Performance.Throughput,
			r.Performance.ErrorRate*100, strings.Join(alerts, ","))
	}
	for _, r := range reports {
		if len(r.Alerts)+len(r.Recommendations)+len(r.Diagnosis) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s %s: %s\n", paint(r.Status, "●"), printable(r.Pool.Name), r.StatusReason)
		for _, a := range r.Alerts {
			fmt.Fprintf(w, "  alert     %-17s %s (since %s)\n", a.Type, a.Message, a.FiredAt.Local().Format(time.TimeOnly))
		}
		for _, rec := range r.Recommendations {
			// Implementation names the change, Evidence the measurement behind it.
			fmt.Fprintf(w, "  recommend %s — %s\n", rec.Implementation, rec.Evidence)
		}
		for _, f := range r.Diagnosis {
			fmt.Fprintf(w, "  diagnosis %s: %s\n", f.Cause, f.Evidence)
		}
	}
}

// plural writes a count with its noun, one or many: "1 pool", "0 pools".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// clip shortens s to n characters, the last of them "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// printable returns a name for a terminal. Names come from the configuration
// and from clients (a user name, for a per-user pool), and a client's ESC
// would drive the operator's terminal: control characters and bytes that are
// not UTF-8 are written as escapes (\x1b, \u0085, \xff).
func printable(s string) string { return escapeControls(s, "") }

// escapeControls is printable, but leaves the characters in keep as they are.
func escapeControls(s, keep string) string {
	unsafe := func(r rune) bool {
		return (r == utf8.RuneError || unicode.IsControl(r)) && !strings.ContainsRune(keep, r)
	}
	if !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unsafe(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}
