package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Service is one simulated application. Each of its Clients keeps one client
// connection to motorpool, logged in with application_name Name, and repeats a
// round of work followed by a pause until the demo ends.
type Service struct {
	// Name is the service's name in the configuration and the
	// application_name its clients send.
	Name string
	// Type is the service type WriteConfig gives it.
	Type string
	// Clients is how many client connections it opens.
	Clients int
	// ConnectionLimit is the size of its pool in WriteConfig's configuration.
	ConnectionLimit int
	// About says in a few words what its clients do.
	About string

	// round does one round of work and returns the transactions it
	// committed; the error is the first that ended the round.
	round func(ctx context.Context, c *client) (int, error)
	// pause returns how long the client rests after a round.
	pause func(c *client) time.Duration
}

// Services returns the demo's simulated services, with the sizes WriteConfig
// writes. The caller may change the copies' Clients (a test runs fewer).
func Services() []Service {
	return []Service{
		{
			Name: "web-api", Type: "api_gateway", Clients: 40, ConnectionLimit: 6,
			About: "bursts of short transactions every 4s",
			round: repeat(3, webRequest),
			pause: func(c *client) time.Duration { return c.untilNext(4*time.Second) + c.jitter(50*time.Millisecond) },
		},
		{
			Name: "users", Type: "user_service", Clients: 6, ConnectionLimit: 4,
			About: "steady small read/write transactions",
			round: repeat(1, userUpdate),
			pause: func(c *client) time.Duration { return 50*time.Millisecond + c.jitter(100*time.Millisecond) },
		},
		{
			Name: "analytics", Type: "analytics_service", Clients: 3, ConnectionLimit: 2,
			About: "a slow report query (1.5s)",
			round: repeat(1, report),
			pause: func(c *client) time.Duration { return 500*time.Millisecond + c.jitter(time.Second) },
		},
		{
			Name: "batch", Type: "notification_service", Clients: 1, ConnectionLimit: 2,
			About: "COPY of 5000 rows every 5s",
			round: repeat(1, loadNotifications),
			pause: func(c *client) time.Duration { return c.untilNext(5 * time.Second) },
		},
	}
}

// repeat returns a round of n transactions made by tx.
func repeat(n int, tx func(context.Context, *client) error) func(context.Context, *client) (int, error) {
	return func(ctx context.Context, c *client) (int, error) {
		for i := range n {
			if err := tx(ctx, c); err != nil {
				return i, err
			}
		}
		return n, nil
	}
}

// webRequest is one page view: look a product up and record the view, with
// some application work in between, inside one transaction.
func webRequest(ctx context.Context, c *client) error {
	return pgx.BeginFunc(ctx, c.conn, func(tx pgx.Tx) error {
		id := 1 + c.rng.IntN(numProducts)
		var name string
		var price int
		if err := tx.QueryRow(ctx, `SELECT name, price_cents FROM products WHERE id = $1`, id).Scan(&name, &price); err != nil {
			return fmt.Errorf("read product: %w", err)
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil { // the handler's own work
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO page_views (product_id) VALUES ($1)`, id); err != nil {
			return fmt.Errorf("record view: %w", err)
		}
		return nil
	})
}

// userUpdate reads a user, marks them seen and records an order.
func userUpdate(ctx context.Context, c *client) error {
	return pgx.BeginFunc(ctx, c.conn, func(tx pgx.Tx) error {
		id := 1 + c.rng.IntN(numUsers)
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, id).Scan(&name); err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET last_seen = now() WHERE id = $1`, id); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO orders (user_id, product_id) VALUES ($1, $2)`, id, 1+c.rng.IntN(numProducts)); err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		return nil
	})
}

// report is a slow read-only report: pg_sleep stands in for the scan of a
// large table.
func report(ctx context.Context, c *client) error {
	return pgx.BeginTxFunc(ctx, c.conn, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_sleep(1.5)`); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		rows, err := tx.Query(ctx, `
			SELECT p.id, p.name, count(*) AS views
			FROM page_views v JOIN products p ON p.id = v.product_id
			GROUP BY p.id, p.name ORDER BY views DESC LIMIT 10`)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		return nil
	})
}

// batchRows is how many notifications loadNotifications copies per round.
const batchRows = 5000

// loadNotifications copies a batch of notifications in with COPY and removes
// the ones older than a minute, in one transaction.
func loadNotifications(ctx context.Context, c *client) error {
	return pgx.BeginFunc(ctx, c.conn, func(tx pgx.Tx) error {
		n := 0
		rows := pgx.CopyFromFunc(func() ([]any, error) {
			if n == batchRows {
				return nil, nil
			}
			n++
			user := 1 + c.rng.IntN(numUsers)
			return []any{int32(user), fmt.Sprintf("your order for user %d has shipped", user)}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"notifications"}, []string{"user_id", "body"}, rows); err != nil {
			return fmt.Errorf("copy notifications: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM notifications WHERE created_at < now() - interval '1 minute'`); err != nil {
			return fmt.Errorf("delete old notifications: %w", err)
		}
		return nil
	})
}

// untilNext returns the time from now to the next multiple of period since
// the demo began, so that all clients with the same period act together.
func (c *client) untilNext(period time.Duration) time.Duration {
	return period - time.Since(c.start)%period
}

// jitter returns a random duration in [0, d).
func (c *client) jitter(d time.Duration) time.Duration {
	return time.Duration(c.rng.Int64N(int64(d)))
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
