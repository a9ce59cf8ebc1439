package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/motorpool/motorpool/internal/testenv"
)

// settingsQuery reads back every setting a client may ask for at startup, and which
// schema its unqualified table name resolves to.
const settingsQuery = `SELECT current_setting('search_path'), current_setting('TimeZone'),
	current_setting('DateStyle'), current_setting('application_name'),
	current_setting('client_min_messages'), current_setting('statement_timeout'),
	current_setting('work_mem'), (SELECT v FROM who), to_char(timestamptz '2024-01-01 00:00+00', 'HH24:MI')`

func readSettings(ctx context.Context, conn *pgx.Conn) (string, error) {
	var vals [9]string
	dst := make([]any, len(vals))
	for i := range vals {
		dst[i] = &vals[i]
	}
	if err := conn.QueryRow(ctx, settingsQuery).Scan(dst...); err != nil {
		return "", err
	}
	return strings.Join(vals[:], " | "), nil
}

// TestStartupParametersFollowEachClientOnAPoolOfOne: two clients with different
// startup parameters (search_path, TimeZone, DateStyle, application_name,
// client_min_messages, options=-c ...) take turns — and run at once — on one server
// connection in transaction mode; each always sees exactly what PostgreSQL shows a
// direct connection with the same parameters, including a SET made later.
func TestStartupParametersFollowEachClientOnAPoolOfOne(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	mustExec(t, e.Direct(t),
		"CREATE SCHEMA sa", "CREATE SCHEMA sb", "GRANT USAGE ON SCHEMA sa, sb TO PUBLIC",
		"CREATE TABLE sa.who (v text)", "CREATE TABLE sb.who (v text)",
		"INSERT INTO sa.who VALUES ('a')", "INSERT INTO sb.who VALUES ('b')",
		"GRANT SELECT ON sa.who, sb.who TO PUBLIC")
	params := map[string]url.Values{
		"a": {"search_path": {"sa"}, "TimeZone": {"Asia/Tokyo"}, "DateStyle": {"German, DMY"},
			"application_name": {"client a"}, "client_min_messages": {"warning"},
			"options": {"-c statement_timeout=1111 -c work_mem=1111kB"}},
		"b": {"search_path": {"sb"}, "TimeZone": {"America/New_York"}, "DateStyle": {"SQL, MDY"},
			"application_name": {"client b"}, "client_min_messages": {"error"},
			"options": {"--statement-timeout=2222 -c work_mem=2222kB"}},
	}
	ctx := testCtx(t)
	want := map[string]string{}
	conns := map[string]*pgx.Conn{}
	encode := func(v url.Values) string { return strings.ReplaceAll(v.Encode(), "+", "%20") }
	for name, v := range params {
		ref := connect(t, e.PG.DSN(testenv.ScramUser, testenv.ScramPassword, e.DB)+"&"+encode(v))
		w, err := readSettings(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = w
		conns[name] = e.Connect(t, encode(v))
		for _, p := range []string{"TimeZone", "DateStyle", "application_name"} {
			if got, exp := conns[name].PgConn().ParameterStatus(p), ref.PgConn().ParameterStatus(p); got != exp {
				t.Errorf("client %s: ParameterStatus %s = %q, PostgreSQL reports %q", name, p, got, exp)
			}
		}
	}
	if want["a"] == want["b"] {
		t.Fatal("the two clients' settings are not different")
	}
	check := func(name string) error {
		got, err := readSettings(ctx, conns[name])
		if err != nil {
			return fmt.Errorf("client %s: %w", name, err)
		}
		if got != want[name] {
			return fmt.Errorf("client %s sees\n\t%s\nwant\n\t%s", name, got, want[name])
		}
		return nil
	}
	pidA := queryInt(t, conns["a"], "SELECT pg_backend_pid()")
	pidB := queryInt(t, conns["b"], "SELECT pg_backend_pid()")
	if pidA != pidB {
		t.Fatalf("a pool of 1 used two server connections (%d, %d)", pidA, pidB)
	}
	for range 5 {
		for _, name := range []string{"a", "b"} {
			if err := check(name); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, name := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 30 {
				if err := check(name); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A session SET follows its client too.
	mustExec(t, conns["a"], "SET TimeZone = 'UTC'")
	want["a"] = strings.Replace(want["a"], "Asia/Tokyo", "UTC", 1)
	want["a"] = strings.Replace(want["a"], "09:00", "00:00", 1)
	for range 3 {
		for _, name := range []string{"b", "a"} {
			if err := check(name); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A setting PostgreSQL refuses at login is refused at login.
	err := connectErr(t, e.AppDSN("options="+strings.ReplaceAll(url.QueryEscape("-c work_mem=lots"), "+", "%20")))
	if !isCode(err, "22023") {
		t.Fatalf("an invalid startup setting gave %v, want 22023 as PostgreSQL says", err)
	}
}

// TestCopyFromAndToThroughMotorpool moves rows in and out with COPY in transaction
// mode, including rows larger than motorpool's relay buffers, and checks every byte.
func TestCopyFromAndToThroughMotorpool(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	mustExec(t, e.Direct(t), "CREATE TABLE docs (id int PRIMARY KEY, body text)", "GRANT ALL ON docs TO PUBLIC")
	conn := e.Connect(t, "")
	ctx := testCtx(t)
	var rows [][]any
	for i := range 2000 {
		body := fmt.Sprintf("row %d ", i)
		if i%500 == 7 {
			body = strings.Repeat(fmt.Sprintf("big %d ", i), 40000) // ~300 KiB
		}
		rows = append(rows, []any{i, body})
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"docs"}, []string{"id", "body"}, pgx.CopyFromRows(rows))
	if err != nil || n != int64(len(rows)) {
		t.Fatalf("CopyFrom: %d rows, %v", n, err)
	}
	var out bytes.Buffer
	tag, err := conn.PgConn().CopyTo(ctx, &out, "COPY (SELECT id, body FROM docs ORDER BY id) TO STDOUT")
	if err != nil || tag.RowsAffected() != int64(len(rows)) {
		t.Fatalf("CopyTo: %v, %v", tag, err)
	}
	var want strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&want, "%d\t%s\n", r[0], r[1])
	}
	if out.String() != want.String() {
		t.Fatalf("COPY TO returned %d bytes that differ from the %d written", out.Len(), want.Len())
	}
	// COPY FROM STDIN with text data, and an error in the middle that rolls it back.
	_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("5000\tok\nnot a number\tbad\n"), "COPY docs FROM STDIN")
	if !isCode(err, "22P02") {
		t.Fatalf("COPY with a bad row: %v, want 22P02", err)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM docs WHERE id = 5000"); n != 0 {
		t.Fatal("a failed COPY left rows behind")
	}
	if _, err := conn.PgConn().CopyFrom(ctx, strings.NewReader("5001\tok\n"), "COPY docs FROM STDIN"); err != nil {
		t.Fatalf("COPY after a failed COPY: %v", err)
	}
}

// TestListenNotifyInSessionMode: a listener in session mode gets the notifications
// other clients send, with their payloads, while idle and between its own queries.
func TestListenNotifyInSessionMode(t *testing.T) {
	t.Parallel()
	e := start(t, setup{Mode: "session", PoolSize: 3})
	listener, sender := e.Connect(t, ""), e.Connect(t, "")
	ctx := testCtx(t)
	mustExec(t, listener, `LISTEN "motor events"`)
	for i := range 5 {
		payload := fmt.Sprintf("event %d", i)
		if _, err := sender.Exec(ctx, `SELECT pg_notify('motor events', $1)`, payload); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		n, err := listener.WaitForNotification(wctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for %q: %v", payload, err)
		}
		if n.Channel != "motor events" || n.Payload != payload || n.PID != sender.PgConn().PID() {
			t.Fatalf("got %+v, want %q from PID %d", n, payload, sender.PgConn().PID())
		}
		queryInt(t, listener, "SELECT 1") // the listener keeps working in between
	}
	mustExec(t, listener, `UNLISTEN *`)
	mustExec(t, sender, `NOTIFY "motor events", 'unheard'`)
	if got := queryInt(t, listener, "SELECT count(*) FROM pg_listening_channels()"); got != 0 {
		t.Fatalf("still listening on %d channels", got)
	}
}

// TestNoticesReachTheClientThatCausedThem: notices raised on a shared server
// connection go to the client whose statement raised them, and client_min_messages
// set at startup filters them as on PostgreSQL.
func TestNoticesReachTheClientThatCausedThem(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	var mu sync.Mutex
	got := map[string][]string{}
	open := func(name, extra string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(e.AppDSN(extra))
		if err != nil {
			t.Fatal(err)
		}
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			mu.Lock()
			got[name] = append(got[name], n.Message)
			mu.Unlock()
		}
		conn, err := pgx.ConnectConfig(testCtx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	a, b, quiet := open("a", ""), open("b", ""), open("quiet", "client_min_messages=warning")
	for i := range 3 {
		for name, conn := range map[string]*pgx.Conn{"a": a, "b": b, "quiet": quiet} {
			mustExec(t, conn, fmt.Sprintf("DO $$ BEGIN RAISE NOTICE 'for %s %d'; END $$", name, i))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"a", "b"} {
		want := fmt.Sprintf("[for %s 0 for %s 1 for %s 2]", name, name, name)
		if fmt.Sprint(got[name]) != want {
			t.Errorf("client %s got notices %v, want %s", name, got[name], want)
		}
	}
	if len(got["quiet"]) != 0 {
		t.Errorf("a client with client_min_messages=warning got notices %v", got["quiet"])
	}
}

// TestABadStartupSettingFailsItsOwnLoginOnly: a startup setting PostgreSQL refuses
// fails the login that asked for it with FATAL and PostgreSQL's SQLSTATE, and leaves
// nothing on the server connection for the next client (a pool of one).
func TestABadStartupSettingFailsItsOwnLoginOnly(t *testing.T) {
	t.Parallel()
	e := start(t, setup{PoolSize: 1})
	for opt, code := range map[string]string{"-c nosuch=1": "42704", "-c work_mem=lots": "22023"} {
		err := connectErr(t, e.AppDSN("options="+strings.ReplaceAll(url.QueryEscape(opt), "+", "%20")))
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != code || pgErr.Severity != "FATAL" {
			t.Errorf("options %q: %v, want FATAL %s as PostgreSQL says", opt, err, code)
		}
		next := e.Connect(t, "")
		if n := queryInt(t, next, "SELECT 1"); n != 1 {
			t.Fatalf("the next client after %q", opt)
		}
	}
}
