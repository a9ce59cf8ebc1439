package admin

import (
	"fmt"
	"io"
	"strings"

	"github.com/motorpool/motorpool/internal/monitor"
)

// WriteDoctor writes the troubleshooter's report of every pool: its health and why,
// the diagnosis of why clients wait, the alerts firing and the changes recommended,
// each with its evidence. It returns the worst status seen.
func WriteDoctor(w io.Writer, reports []monitor.Report) monitor.Status {
	worst := monitor.Unknown
	if len(reports) == 0 {
		fmt.Fprintln(w, "no pools yet: pools appear when motorpool starts or a client first uses them")
		return worst
	}
	for i, r := range reports {
		if r.Status.Rank() > worst.Rank() {
			worst = r.Status
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s", printable(r.Pool.Name), r.Status)
		if r.StatusReason != "" {
			fmt.Fprintf(w, " (%s)", r.StatusReason)
		}
		fmt.Fprintf(w, "\n  %d/%s in use (%.1f%%), %d idle, %s waiting\n",
			r.Current.Active, plural(r.Current.Max, "server connection", "server connections"), r.Current.UtilizationPercentage,
			r.Current.Idle, plural(r.Current.Waiting, "client", "clients"))
		for _, f := range r.Diagnosis {
			fmt.Fprintf(w, "  diagnosis [%s] %s\n", f.Severity, f.Summary)
			item(w, "evidence", f.Evidence)
			item(w, "fix", f.Fix)
		}
		for _, a := range r.Alerts {
			fmt.Fprintf(w, "  alert [%s] %s: %s\n", a.Level, a.Type, a.Message)
		}
		for _, rec := range r.Recommendations {
			fmt.Fprintf(w, "  recommend [%s] %s\n", rec.Priority, rec.Description)
			if rec.Setting != "" {
				item(w, "change", fmt.Sprintf("%s: %s -> %s", rec.Setting, rec.Current, rec.Suggested))
			}
			item(w, "evidence", rec.Evidence)
		}
		if len(r.Diagnosis)+len(r.Alerts)+len(r.Recommendations) == 0 {
			fmt.Fprintln(w, "  nothing to report")
		}
	}
	return worst
}

func item(w io.Writer, label, text string) {
	if text = strings.TrimSpace(text); text != "" {
		fmt.Fprintf(w, "      %s: %s\n", label, text)
	}
}
