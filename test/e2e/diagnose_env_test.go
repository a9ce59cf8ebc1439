package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/motorpool/motorpool/internal/monitor"
)

// doctor runs motorpool doctor against e's admin API and returns its report
// and exit status.
func (e *monEnv) doctor(t *testing.T, ctx context.Context) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, motorpoolBin, "doctor", "--addr", strings.TrimPrefix(e.HTTP, "http://"))
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("motorpool doctor: %v\n%s", err, out.String())
	}
	return out.String(), 0
}

// finding returns the report's finding of cause c, or nil.
func finding(r monitor.Report, c monitor.Cause) *monitor.Finding {
	for i, f := range r.Diagnosis {
		if f.Cause == c {
			return &r.Diagnosis[i]
		}
	}
	return nil
}

// sampledAfter waits until the monitor has judged e's pool on a sample taken
// after the moment of r0 (a report fetched then), and returns that report.
func (e *monEnv) sampledAfter(t *testing.T, ctx context.Context, r0 monitor.Report) monitor.Report {
	t.Helper()
	var r monitor.Report
	waitFor(t, ctx, "a newer sample", func() bool { r = e.report(t); return r.UpdatedAt.After(r0.UpdatedAt) })
	return r
}
