package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/monitor"
)

func newDoctorCmd() *cobra.Command {
	var addr, token string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Explain what is wrong with each pool of a running motorpool, and what to change",
		Long: `doctor asks a running motorpool (its admin HTTP API, admin.listen) for every
pool's health, the diagnosis of why clients wait (pool too small, database slow
or unreachable, connection leak, clients idle in transaction), the alerts firing
and the recommended changes with their evidence, and prints them.

Exit status: 0 when every pool is healthy or fair, 1 when one is at warning,
2 when one is critical, 3 when motorpool cannot be asked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("MOTORPOOL_ADMIN_TOKEN")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			reports, err := (&admin.Client{Base: addr, Token: token}).Pools(ctx)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "motorpool doctor: %v\n", explainAPIError(addr, err))
				return exitError{3}
			}
			switch admin.WriteDoctor(cmd.OutOrStdout(), reports) {
			case monitor.Critical:
				return exitError{2}
			case monitor.Warning:
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "admin API address (admin.listen)")
	cmd.Flags().StringVar(&token, "token", "", "admin API bearer token (default $MOTORPOOL_ADMIN_TOKEN)")
	return cmd
}

// explainAPIError says, when the admin API at addr could not be asked at all
// (nothing listens there, or something that does not speak HTTP, such as
// motorpool's PostgreSQL port), what --addr should be; other errors (an HTTP
// status from motorpool) are returned as they are.
func explainAPIError(addr string, err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("cannot ask motorpool's admin API at %s (is motorpool running, and is that its admin.listen, not its listen?): %w", addr, err)
}
