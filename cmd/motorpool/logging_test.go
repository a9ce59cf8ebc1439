package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// TestLogSwitchFormat: log.format changed by a reload switches every logger,
// those made with With and WithGroup before the switch included, and back.
func TestLogSwitchFormat(t *testing.T) {
	var out bytes.Buffer
	var level slog.LevelVar
	s := newLogSwitch(&out, "text", &level)
	root := s.Logger()
	derived := root.With("db", "shop").WithGroup("pool")

	lines := func() []string {
		defer out.Reset()
		return strings.Split(strings.TrimSpace(out.String()), "\n")
	}
	derived.Info("before", "size", 2)
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], `msg=before db=shop pool.size=2`) {
		t.Fatalf("text: %q", got)
	}

	s.SetFormat("json")
	derived.Info("after", "size", 3)
	root.Debug("hidden")
	level.Set(slog.LevelDebug)
	root.Debug("shown")
	got := lines()
	if len(got) != 2 {
		t.Fatalf("json: %q, want 2 lines", got)
	}
	var rec struct {
		Msg  string
		DB   string `json:"db"`
		Pool struct{ Size int }
	}
	if err := json.Unmarshal([]byte(got[0]), &rec); err != nil || rec.Msg != "after" || rec.DB != "shop" || rec.Pool.Size != 3 {
		t.Errorf("json: %q (%+v, %v)", got[0], rec, err)
	}
	if !strings.Contains(got[1], `"msg":"shown"`) {
		t.Errorf("json after level debug: %q", got[1])
	}

	s.SetFormat("text")
	derived.Info("back")
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], `msg=back db=shop`) {
		t.Errorf("text again: %q", got)
	}
}

// TestLogSwitchConcurrent runs under -race: logging while the format changes.
func TestLogSwitchConcurrent(t *testing.T) {
	var out bytes.Buffer
	s := newLogSwitch(&out, "text", slog.LevelInfo)
	log := s.Logger().With("k", "v")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				log.Info("x")
			}
		})
	}
	for i := range 50 {
		s.SetFormat([]string{"text", "json"}[i%2])
	}
	wg.Wait()
	if n := strings.Count(out.String(), "\n"); n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}
