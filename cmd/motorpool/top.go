package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/motorpool/motorpool/internal/admin"
)

func newTopCmd() *cobra.Command {
	var addr, token string
	var interval time.Duration
	var once, noColor bool
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show every pool's health, load, alerts and recommendations, refreshed every second",
		Long: `top is a terminal view of a running motorpool, read from its admin HTTP API
(admin.listen): one line per pool with its health status, server connections,
utilization, waiting clients, acquire wait percentiles, throughput and error
rate, then the alerts, recommendations and diagnosis of the pools that have any.
Quit with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("MOTORPOOL_ADMIN_TOKEN")
			}
			c := &admin.Client{Base: addr, Token: token}
			color := !noColor && !once && isTerminal(cmd.OutOrStdout())
			return runTop(cmd.Context(), cmd.OutOrStdout(), c, addr, interval, once, color)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "admin API address (admin.listen)")
	cmd.Flags().StringVar(&token, "token", "", "admin API bearer token (default $MOTORPOOL_ADMIN_TOKEN)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "refresh interval")
	cmd.Flags().BoolVar(&once, "once", false, "print one screen without clearing and exit")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "no ANSI colours")
	return cmd
}

// runTop draws a screen every interval until interrupted, or once.
func runTop(ctx context.Context, out io.Writer, c *admin.Client, addr string, interval time.Duration, once, color bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		reports, err := c.Pools(ctx)
		err = explainAPIError(addr, err)
		if err != nil && once {
			return err
		}
		var screen bytes.Buffer
		if !once {
			screen.WriteString("\x1b[H\x1b[2J") // home, clear
		}
		if err != nil {
			fmt.Fprintf(&screen, "motorpool top — %v\n", err)
		} else {
			admin.WriteTop(&screen, addr, reports, time.Now(), color)
		}
		out.Write(screen.Bytes())
		if once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
