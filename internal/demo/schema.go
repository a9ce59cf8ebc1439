package demo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The sizes of the reference tables Prepare fills.
const (
	numProducts = 1000
	numUsers    = 5000
)

// schema creates the demo's tables when missing, fills the reference tables
// and empties the ones the workload writes, so that every run starts alike.
var schema = fmt.Sprintf(`
CREATE TABLE IF NOT EXISTS products (
	id          int PRIMARY KEY,
	name        text NOT NULL,
	price_cents int NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
	id        int PRIMARY KEY,
	name      text NOT NULL,
	last_seen timestamptz
);
CREATE TABLE IF NOT EXISTS orders (
	id         bigserial PRIMARY KEY,
	user_id    int NOT NULL,
	product_id int NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS page_views (
	id         bigserial PRIMARY KEY,
	product_id int NOT NULL,
	viewed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS notifications (
	id         bigserial PRIMARY KEY,
	user_id    int NOT NULL,
	body       text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO products SELECT g, 'product ' || g, 100 + g * 37 %% 9900 FROM generate_series(1, %d) g ON CONFLICT DO NOTHING;
INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, %d) g ON CONFLICT DO NOTHING;
TRUNCATE orders, page_views, notifications;
`, numProducts, numUsers)

// Prepare readies the database at dsn for the workload (see schema). It may
// run through motorpool: it is one simple-protocol request.
func Prepare(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, schema); err != nil {
		return fmt.Errorf("create the demo tables: %w", err)
	}
	return nil
}
