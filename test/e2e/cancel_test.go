package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/motorpool/motorpool/internal/proxy"
)

// isCode reports whether err carries SQLSTATE code.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// sqlstate returns err's SQLSTATE, or "" if it has none.
func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// sendCancel sends a CancelRequest with the given key to addr and waits until the
// receiver closes the connection, which it does once it has acted on the request.
func sendCancel(t testing.TB, addr string, pid uint32, secret []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	msg := binary.BigEndian.AppendUint32(nil, uint32(12+len(secret)))
	msg = binary.BigEndian.AppendUint32(msg, 80877102)
	msg = binary.BigEndian.AppendUint32(msg, pid)
	msg = append(msg, secret...)
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("cancel connection: %v", err)
	}
}

// TestCancelledPgSleepLeavesAConcurrentClientsQueryAlone: a client's cancel stops its
// own pg_sleep and nothing else; another client's query running at the same time on
// the same pool completes, and the cancelled client goes on.
func TestCancelledPgSleepLeavesAConcurrentClientsQueryAlone(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"session", "transaction"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := start(t, setup{Mode: mode, PoolSize: 2})
			direct := e.Direct(t)
			a, b := e.Connect(t, ""), e.Connect(t, "")
			ctx := testCtx(t)
			errA := make(chan error, 1)
			go func() {
				_, err := a.Exec(ctx, "SELECT pg_sleep(60) -- cancel me")
				errA <- err
			}()
			resB := make(chan string, 1)
			go func() {
				var s string
				err := b.QueryRow(ctx, "SELECT 'survived' FROM pg_sleep(1) -- keep me").Scan(&s)
				if err != nil {
					s = err.Error()
				}
				resB <- s
			}()
			waitActive(t, direct, "cancel me")
			waitActive(t, direct, "keep me")
			if err := a.PgConn().CancelRequest(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-errA; !isCode(err, "57014") {
				t.Fatalf("cancelled pg_sleep returned %v, want SQLSTATE 57014", err)
			}
			if got := <-resB; got != "survived" {
				t.Fatalf("the other client's query answered %q", got)
			}
			if n := queryInt(t, a, "SELECT 7"); n != 7 {
				t.Fatalf("after the cancel, SELECT 7 = %d", n)
			}
		})
	}
}

// TestCancelRacesNeverReachAnotherClient covers the races that crash or misdirect
// poolers: a cancel sent after the query finished, from a client that has
// disconnected, with a key nobody holds, and cancels fired at random moments around
// the end of queries while another client uses the same server connection.
func TestCancelRacesNeverReachAnotherClient(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	direct := e.Direct(t)
	host := e.Addr

	// victim runs a one-second query on the only server connection while cancel
	// runs, and reports whether it survived.
	victim := func(t *testing.T, cancel func()) {
		t.Helper()
		b := e.Connect(t, "")
		ctx := testCtx(t)
		res := make(chan error, 1)
		go func() {
			var s string
			err := b.QueryRow(ctx, "SELECT 'ok' FROM pg_sleep(1) -- victim").Scan(&s)
			res <- err
		}()
		waitActive(t, direct, "-- victim")
		cancel()
		if err := <-res; err != nil {
			t.Fatalf("a cancel meant for another client reached this one: %v", err)
		}
	}

	t.Run("cancel after the query finished", func(t *testing.T) {
		a := e.Connect(t, "")
		queryInt(t, a, "SELECT 1")
		victim(t, func() { sendCancel(t, host, a.PgConn().PID(), a.PgConn().SecretKey()) })
	})
	t.Run("cancel from a client that disconnected", func(t *testing.T) {
		a := e.Connect(t, "")
		queryInt(t, a, "SELECT 1")
		pid, key := a.PgConn().PID(), a.PgConn().SecretKey()
		a.Close(context.Background())
		victim(t, func() { sendCancel(t, host, pid, key) })
	})
	t.Run("cancel with a key nobody holds", func(t *testing.T) {
		victim(t, func() { sendCancel(t, host, 12345, []byte{1, 2, 3, 4}) })
	})
	t.Run("cancel with a malformed key", func(t *testing.T) {
		victim(t, func() { sendCancel(t, host, 12345, []byte{1, 2}) })
	})
	t.Run("cancels racing the end of queries", func(t *testing.T) {
		a, b := e.Connect(t, ""), e.Connect(t, "")
		ctx := testCtx(t)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		bErrs := make(chan error, 1)
		wg.Add(1)
		go func() { // b keeps using the server connection whenever a lets go of it
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := b.QueryRow(ctx, "SELECT 5 FROM pg_sleep(0.02)").Scan(&n); err != nil || n != 5 {
					bErrs <- fmt.Errorf("b: %d, %w", n, err)
					return
				}
			}
		}()
		for i := range 40 {
			done := make(chan error, 1)
			go func() {
				_, err := a.Exec(ctx, "SELECT pg_sleep(0.01)")
				done <- err
			}()
			time.Sleep(time.Duration(i%8) * 3 * time.Millisecond) // spread the cancels around the query's end
			sendCancel(t, host, a.PgConn().PID(), a.PgConn().SecretKey())
			if err := <-done; err != nil && !isCode(err, "57014") {
				t.Fatalf("a's query failed with %v; want success or 57014", err)
			}
		}
		close(stop)
		wg.Wait()
		select {
		case err := <-bErrs:
			t.Fatalf("a cancel reached the other client: %v", err)
		default:
		}
	})
	t.Run("cancels racing their client's disconnect", func(t *testing.T) {
		for range 30 {
			a := e.Connect(t, "")
			pid, key := a.PgConn().PID(), a.PgConn().SecretKey()
			done := make(chan struct{})
			go func() {
				defer close(done)
				a.Exec(testCtx(t), "SELECT pg_sleep(0.05)")
			}()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); sendCancel(t, host, pid, key) }()
			go func() { defer wg.Done(); a.PgConn().Conn().Close() }()
			wg.Wait()
			<-done
		}
		victim(t, func() {})
	})
	t.Run("the proxy still serves", func(t *testing.T) {
		if n := queryInt(t, e.Connect(t, ""), "SELECT 3"); n != 3 {
			t.Fatalf("SELECT 3 = %d", n)
		}
	})
}

// TestSessionModeGivesTheRealBackendPID: in session mode BackendKeyData carries the
// server's process ID, so pg_backend_pid() matches it and pg_cancel_backend and
// pg_terminate_backend work on it; cancel requests still go through motorpool.
func TestSessionModeGivesTheRealBackendPID(t *testing.T) {
	t.Parallel()
	e := start(t, setup{Mode: "session", PoolSize: 2})
	a, b := e.Connect(t, ""), e.Connect(t, "")
	ctx := testCtx(t)
	pid := uint32(queryInt(t, a, "SELECT pg_backend_pid()"))
	if a.PgConn().PID() != pid {
		t.Fatalf("BackendKeyData PID %d, pg_backend_pid() %d", a.PgConn().PID(), pid)
	}
	if other := uint32(queryInt(t, b, "SELECT pg_backend_pid()")); other == pid || b.PgConn().PID() != other {
		t.Fatalf("second client: BackendKeyData PID %d, pg_backend_pid() %d (first %d)", b.PgConn().PID(), other, pid)
	}

	errA := make(chan error, 1)
	go func() {
		_, err := a.Exec(ctx, "SELECT pg_sleep(60) -- cancel by pid")
		errA <- err
	}()
	waitActive(t, e.Direct(t), "cancel by pid")
	var ok bool
	if err := b.QueryRow(ctx, "SELECT pg_cancel_backend($1)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_cancel_backend(%d) = %v, %v", pid, ok, err)
	}
	if err := <-errA; !isCode(err, "57014") {
		t.Fatalf("pg_sleep after pg_cancel_backend: %v, want 57014", err)
	}
	if n := queryInt(t, a, "SELECT 1"); n != 1 {
		t.Fatal("a is not usable after the cancel")
	}

	if err := b.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	eventually(t, time.Minute, "backend gone", func() error {
		if n := queryInt(t, b, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid); n != 0 {
			return errors.New("still there")
		}
		return nil
	})
	_, err := a.Exec(ctx, "SELECT 1")
	if code := sqlstate(err); code != "57P01" && code != "08006" {
		t.Fatalf("after pg_terminate_backend the client got %v, want FATAL 57P01 (or 08006)", err)
	}
	c := e.Connect(t, "")
	if n := queryInt(t, c, "SELECT 2"); n != 2 {
		t.Fatal("a new client is not served after a terminated backend")
	}
}

// TestTransactionModeGivesMotorpoolsOwnBackendKey: in transaction mode a client has
// no server process of its own; its BackendKeyData is motorpool's, and cancels with it
// still work.
func TestTransactionModeGivesMotorpoolsOwnBackendKey(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	a := e.Connect(t, "")
	var pid uint32
	if err := a.QueryRow(testCtx(t), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if a.PgConn().PID() == pid {
		t.Fatalf("transaction mode handed out the server PID %d, which another client may be using", pid)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), time.Minute)
	defer cancel()
	errA := make(chan error, 1)
	go func() {
		_, err := a.Exec(ctx, "SELECT pg_sleep(60) -- txn cancel")
		errA <- err
	}()
	waitActive(t, e.Direct(t), "txn cancel")
	if err := a.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errA; !isCode(err, "57014") {
		t.Fatalf("cancelled query: %v, want 57014", err)
	}
}

// TestCancelWhileWaitingForAServerConnection: a client whose statement waits for a
// server connection (all busy) can cancel it as if it ran: the statement fails with
// 57014 at once, is never sent, and the client goes on.
func TestCancelWhileWaitingForAServerConnection(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1, URLParams: "pool_timeout=60"})
	direct := e.Direct(t)
	mustExec(t, direct, "CREATE TABLE waited (x int)", "GRANT ALL ON waited TO PUBLIC")
	ctx := testCtx(t)
	holder, err := e.Connect(t, "").Begin(ctx) // holds the only server connection
	if err != nil {
		t.Fatal(err)
	}
	b := e.Connect(t, "")
	got := make(chan error, 1)
	go func() {
		_, err := b.Exec(ctx, "INSERT INTO waited VALUES (1)")
		got <- err
	}()
	eventually(t, time.Minute, "the client waiting", func() error {
		for _, c := range e.Proxy.Clients() {
			if c.State == proxy.StateWaiting {
				return nil
			}
		}
		return errors.New("nobody waits")
	})
	if err := b.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if !isCode(err, "57014") {
			t.Fatalf("the cancelled wait: %v, want 57014", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the cancel did not end the wait")
	}
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, b, "SELECT 8"); n != 8 {
		t.Fatal("the client after its cancel")
	}
	if n := queryInt(t, direct, "SELECT count(*) FROM waited"); n != 0 {
		t.Fatalf("the cancelled statement ran (%d rows)", n)
	}
}
