package e2e

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgBouncerListColumns are PgBouncer 1.18's SHOW CLIENTS and SHOW SERVERS columns,
// in its order: scripts read them by position.
var pgBouncerListColumns = []string{"type", "user", "database", "state", "addr", "port", "local_addr", "local_port",
	"connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr", "link", "remote_pid", "tls", "application_name"}

// SHOW CLIENTS and SHOW SERVERS begin with PgBouncer's columns in PgBouncer's order,
// and fill them: a client waiting for a server connection shows how long it has
// waited, each client holding one is linked to it and back, and local_port is the
// port the client connected to.
func TestConsoleCompatClientAndServerLists(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	e, _ := startCompat(t, "") // a pool of 2
	var txs []pgx.Tx
	for range 2 {
		tx, err := e.connect(t, ctx).Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	waiter := e.connect(t, ctx)
	waited := make(chan error, 1)
	go func() { _, err := waiter.Exec(ctx, "SELECT 2"); waited <- err }()
	con, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	_, proxyPort, _ := net.SplitHostPort(e.Addr)

	var clientCols []string
	var clients [][]string
	eventually(t, time.Minute, "a client waits, and SHOW CLIENTS says for how long", func() error {
		clientCols, clients = consoleTable(t, ctx, con, "SHOW CLIENTS")
		for _, r := range clients {
			if column(clientCols, r, "state") == "waiting" && (column(clientCols, r, "wait") != "0" || column(clientCols, r, "wait_us") != "0") {
				return nil
			}
		}
		return fmt.Errorf("clients: %v", clients)
	})
	if !slices.Equal(clientCols[:len(pgBouncerListColumns)], pgBouncerListColumns) {
		t.Errorf("SHOW CLIENTS columns %v; want PgBouncer's first: %v", clientCols, pgBouncerListColumns)
	}
	serverCols, servers := consoleTable(t, ctx, con, "SHOW SERVERS")
	if !slices.Equal(serverCols[:len(pgBouncerListColumns)], pgBouncerListColumns) {
		t.Errorf("SHOW SERVERS columns %v; want PgBouncer's first: %v", serverCols, pgBouncerListColumns)
	}
	if len(servers) != 2 {
		t.Fatalf("servers: %v; want the two", servers)
	}
	serverLinks := map[string]string{} // ptr -> link
	for _, r := range servers {
		serverLinks[column(serverCols, r, "ptr")] = column(serverCols, r, "link")
	}
	active := 0
	for _, r := range clients {
		if column(clientCols, r, "database") != e.DB {
			continue // the console's own client
		}
		if got := column(clientCols, r, "local_port"); got != proxyPort {
			t.Errorf("client local_port %s; want the proxy's port %s", got, proxyPort)
		}
		if column(clientCols, r, "state") != "active" {
			continue
		}
		active++
		link, ok := serverLinks[column(clientCols, r, "link")]
		if !ok || link != column(clientCols, r, "ptr") {
			t.Errorf("active client %v is not linked to a server connection linked back to it (servers %v)", r, servers)
		}
	}
	if active != 2 {
		t.Errorf("%d active clients in %v; want the two holders", active, clients)
	}
	for _, tx := range txs {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-waited; err != nil {
		t.Fatalf("the waiting client: %v", err)
	}
}
