package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/motorpool/motorpool/internal/admin"
	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var file string
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "demo -c FILE",
		Short: "Run motorpool and drive a short mixed workload of simulated services through it",
		Long: `demo starts motorpool in this process, as serve does, with FILE (usually
written by "motorpool demo config"), creates the demo's tables in FILE's
database, and drives a mixed workload through motorpool for --duration:

  web-api    (api_gateway)           40 clients firing bursts of short transactions
  users      (user_service)           6 clients with steady small transactions
  analytics  (analytics_service)      3 clients running a slow report query
  batch      (notification_service)   1 job loading 5000 rows with COPY every 5s

Each logs in with its name as application_name, which FILE matches to a
service with its own pool. Every 5s it prints a line per pool, and at the end
a summary per service. Ctrl-C ends it early; a second Ctrl-C at once.
"make demo" (scripts/demo.sh) finds or starts a PostgreSQL and runs all this.

Exit status: 0 when every transaction succeeded, 1 when some failed, 2 when
the demo could not start, 130 when interrupted before the workload began.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, file, duration)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "motorpool.yaml", "configuration file")
	cmd.Flags().DurationVar(&duration, "duration", 45*time.Second, "how long the workload runs")
	cmd.AddCommand(newDemoConfigCmd())
	return cmd
}

func newDemoConfigCmd() *cobra.Command {
	var p demo.ConfigParams
	cmd := &cobra.Command{
		Use:   "config --backend URL",
		Short: "Print a configuration for the demo",
		Long: `config prints a motorpool configuration for "motorpool demo": the database
` + demo.Database + ` at the PostgreSQL URL --backend, the demo's logins, and one
service with its own small pool for each simulated service.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo.WriteConfig(cmd.OutOrStdout(), p)
		},
	}
	cmd.Flags().StringVar(&p.Backend, "backend", "", "PostgreSQL URL of the "+demo.Database+" database (required)")
	cmd.Flags().StringVar(&p.Listen, "listen", "127.0.0.1:6432", "the proxy's host:port")
	cmd.Flags().StringVar(&p.AdminListen, "admin-listen", "127.0.0.1:8080", "the admin HTTP API's host:port")
	cmd.MarkFlagRequired("backend")
	return cmd
}

// exitInterrupted is demo's exit status when a signal ends it before the
// workload began, as a shell reports a command ended by SIGINT.
const exitInterrupted = 130

// demoLogin is who the demo logs in as.
type demoLogin struct {
	database       string
	user, password string
	admin, adminPw string // "" when no admin user can log in with a known password
}

func runDemo(cmd *cobra.Command, file string, duration time.Duration) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	cfg, err := loadOrReport(stderr, file)
	if err != nil {
		if _, statErr := os.Stat(file); errors.Is(statErr, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "motorpool demo: %s is missing: \"make demo\" writes one and runs the demo with it; or write one with\n"+
				"  motorpool demo config --backend postgresql://USER@HOST:PORT/%s > %s\n", file, demo.Database, file)
		}
		return err
	}
	login, err := findLogin(cfg)
	if err != nil {
		return err
	}
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // the first signal ends the demo; a second one the process

	// The console's SHUTDOWN ends the demo early, as Ctrl-C does; RELOAD is not supported.
	r, err := startProxy(cfg, newLogger(stderr, cfg.Log.Format, cfg.Log.Level), admin.Controls{Shutdown: cancel})
	if err != nil {
		return err
	}
	defer r.close()

	prepCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = demo.Prepare(prepCtx, demo.DSN(r.addr, login.user, login.password, login.database, "motorpool-demo-setup"))
	cancel()
	if err != nil && ctx.Err() != nil {
		// Ctrl-C (or the console's SHUTDOWN) before the workload began: not a failure of the demo.
		fmt.Fprintf(stderr, "motorpool demo: interrupted while creating the demo tables; nothing ran\n")
		return exitError{exitInterrupted}
	}
	if err != nil {
		return fmt.Errorf("create the demo tables in %s through motorpool: %w", login.database, err)
	}
	services := demo.Services()
	printIntro(ctx, stdout, cmd, cfg, r, login, services, duration)

	sum := demo.Run(ctx, demo.Options{
		Addr: r.addr, Database: login.database, User: login.user, Password: login.password,
		Pools: r.px.Pools, Services: services, Duration: duration, Out: stdout,
	})
	fmt.Fprintf(stdout, "\nSummary after %.0fs (waits are for a server connection, as motorpool measures them):\n", sum.Elapsed.Seconds())
	sum.Print(stdout)
	if n := sum.Errors(); n > 0 {
		fmt.Fprintf(stderr, "motorpool demo: %s failed\n", plural(int(n), "request"))
		return exitError{1}
	}
	return nil
}

// findLogin picks the demo's database and logins from cfg: the demo
// database if there is one, else the first; a client user whose password
// the file gives in clear (the demo's own user first); and such an admin.
func findLogin(cfg *config.Config) (demoLogin, error) {
	l := demoLogin{database: cfg.Databases[0].Name}
	if cfg.Database(demo.Database) != nil {
		l.database = demo.Database
	}
	trust := cfg.Auth.Type == config.AuthTrust
	users := slices.Clone(cfg.Auth.Users)
	slices.SortStableFunc(users, func(a, b config.User) int {
		return boolRank(a.Name != demo.User) - boolRank(b.Name != demo.User)
	})
	for _, u := range users {
		clear := u.Password.PasswordKind() == config.PasswordCleartext
		if !clear && !trust {
			continue
		}
		pw := ""
		if clear {
			pw = string(u.Password)
		}
		switch {
		case slices.Contains(cfg.Admin.Users, u.Name):
			if l.admin == "" {
				l.admin, l.adminPw = u.Name, pw
			}
		case l.user == "":
			l.user, l.password = u.Name, pw
		}
	}
	if l.user == "" && trust {
		l.user = demo.User
	}
	if l.user == "" {
		return l, errors.New("demo: the configuration has no client user with a cleartext password in auth.users; write one with \"motorpool demo config\"")
	}
	return l, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// printIntro says what runs and where to look while it does. The admin
// console, the dashboard and motorpool top are shown only when they answer.
func printIntro(ctx context.Context, w io.Writer, cmd *cobra.Command, cfg *config.Config, r *running, l demoLogin, services []demo.Service, d time.Duration) {
	clients := 0
	for _, s := range services {
		clients += s.Clients
	}
	fmt.Fprintf(w, "motorpool is listening on %s, in front of %s.\n", r.addr, cfg.Database(l.database).URL)
	fmt.Fprintf(w, "For %v, %s of %s go through it (Ctrl-C ends it early):\n", d, plural(clients, "client"), plural(len(services), "simulated service"))
	for _, s := range services {
		limit := "its database's pool"
		if svc := cfg.Service(s.Name); svc != nil {
			limit = fmt.Sprintf("pool of %d", svc.Pool.ConnectionLimit)
		}
		fmt.Fprintf(w, "  %-10s %-21s %-11s %s: %s\n", s.Name, s.Type, plural(s.Clients, "client")+",", limit, s.About)
	}
	fmt.Fprintf(w, "\nWhere to look while it runs:\n")
	fmt.Fprintf(w, "  your own psql:  psql %s\n", demo.URL(r.addr, l.user, l.password, l.database))
	if l.admin != "" && consoleAnswers(ctx, r.addr, l) {
		fmt.Fprintf(w, "  admin console:  psql %s   (SHOW POOLS; SHOW BUDGETS; SHOW SCALING;)\n", demo.URL(r.addr, l.admin, l.adminPw, "motorpool"))
	}
	if httpAnswers(ctx, r.adminURL) {
		fmt.Fprintf(w, "  dashboard:      %s/\n", r.adminURL)
		if top, _, err := cmd.Root().Find([]string{"top"}); err == nil && top.Name() == "top" {
			fmt.Fprintf(w, "  in a terminal:  %s top --addr %s\n", os.Args[0], strings.TrimPrefix(r.adminURL, "http://"))
		}
	}
	fmt.Fprintf(w, "\nEvery 5s, per pool: transactions per second, server connections open/limit,\n"+
		"most clients waiting for a connection at once, and the 95th percentile of that wait\n"+
		"(- when the pool handed out no connection in those 5s).\n")
}

// consoleAnswers reports whether the admin console lets l's admin in.
func consoleAnswers(ctx context.Context, addr string, l demoLogin) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, demo.DSN(addr, l.admin, l.adminPw, "motorpool", "motorpool-demo"))
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// httpAnswers reports whether url answers an HTTP GET without a server error.
func httpAnswers(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < 500
}
