package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestNamesNotUTF8KeepMetrics: with auth.type trust and a database URL without a
// user, a client may log in under a user name that is not UTF-8, which gives it
// a pool of its own while it waits for a server connection. /metrics still answers, with the name's invalid bytes as
// U+FFFD, also for two such users whose names then read the same; and the API
// finds the pool under the name its JSON gives.
func TestNamesNotUTF8KeepMetrics(t *testing.T) {
	t.Parallel()
	e := start(t, setup{ClientAuth: "trust", ServerUser: "-", URLParams: "pool_timeout=120"})
	a := observe(e.Proxy)
	// PostgreSQL refuses the users, but their logins wait for a server
	// connection until pool_timeout (or the end of the test), on their pools.
	ctx, cancel := context.WithCancel(context.Background())
	var logins sync.WaitGroup
	defer logins.Wait()
	defer cancel()
	for _, user := range []string{"bad\xffuser", "bad\xfeuser"} {
		logins.Go(func() {
			if conn, err := pgx.Connect(ctx, e.DSN(user, "", "")); err == nil {
				conn.Close(context.Background())
			}
		})
	}
	eventually(t, time.Minute, "both users' pools", func() error {
		if userPool(e.Proxy, "bad\xffuser") == nil || userPool(e.Proxy, "bad\xfeuser") == nil {
			return fmt.Errorf("pools: %d", len(e.Proxy.Pools()))
		}
		return nil
	})
	a.Sample(time.Now(), nil)
	if _, err := a.Registry().Gather(); err != nil {
		t.Fatalf("gathering the metrics: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	if want := `user="bad` + "\uFFFD" + `user"`; code != 200 || !strings.Contains(body, want) {
		t.Errorf("/metrics: %d, want 200 with %s; %.300s", code, want, body)
	}
	if code, body := get("/api/v1/pools/" + url.PathEscape(e.DB+".bad\uFFFDuser")); code != 200 {
		t.Errorf("the API's pool by the name its JSON gives: %d %.200s", code, body)
	}
}
