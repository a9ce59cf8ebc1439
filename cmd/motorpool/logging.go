package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
)

// newLogger returns a logger writing text, or JSON when format is "json".
func newLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	return slog.New(newFormatHandler(w, format, level))
}

func newFormatHandler(w io.Writer, format string, level slog.Leveler) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// logSwitch is the root of serve's loggers: a text or JSON handler that
// SetFormat replaces while motorpool runs (log.format on reload). Loggers
// derived with With and WithGroup follow the replacement.
type logSwitch struct {
	w     io.Writer
	level slog.Leveler
	cur   atomic.Pointer[formatted]
}

// formatted is a handler and the format it writes.
type formatted struct {
	format string
	h      slog.Handler
}

func newLogSwitch(w io.Writer, format string, level slog.Leveler) *logSwitch {
	// The old and the new handler each lock only themselves: during a swap they
	// may both be writing.
	s := &logSwitch{w: &lockedWriter{w: w}, level: level}
	s.SetFormat(format)
	return s
}

// SetFormat makes every logger of s write format ("text" or "json") from its
// next record on. It is safe to call while they log.
func (s *logSwitch) SetFormat(format string) {
	if cur := s.cur.Load(); cur != nil && cur.format == format {
		return
	}
	s.cur.Store(&formatted{format: format, h: newFormatHandler(s.w, format, s.level)})
}

// Logger returns a logger writing through s.
func (s *logSwitch) Logger() *slog.Logger { return slog.New(&switchHandler{s: s}) }

// switchHandler writes through its logSwitch's current handler, with the
// attributes and groups of With and WithGroup applied on top.
type switchHandler struct {
	s     *logSwitch
	with  []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
	built atomic.Pointer[derived]
}

// derived is a switchHandler's with applied to one of its switch's handlers.
type derived struct {
	base *formatted
	h    slog.Handler
}

// handler returns h.with applied to the current handler, rebuilt only after a swap.
func (h *switchHandler) handler() slog.Handler {
	cur := h.s.cur.Load()
	if d := h.built.Load(); d != nil && d.base == cur {
		return d.h
	}
	out := cur.h
	for _, f := range h.with {
		out = f(out)
	}
	h.built.Store(&derived{base: cur, h: out})
	return out
}

func (h *switchHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.handler().Enabled(ctx, l)
}

func (h *switchHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler().Handle(ctx, r)
}

func (h *switchHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.derive(func(in slog.Handler) slog.Handler { return in.WithAttrs(attrs) })
}

func (h *switchHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.derive(func(in slog.Handler) slog.Handler { return in.WithGroup(name) })
}

func (h *switchHandler) derive(f func(slog.Handler) slog.Handler) *switchHandler {
	return &switchHandler{s: h.s, with: append(slices.Clip(h.with), f)}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex // protects w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
