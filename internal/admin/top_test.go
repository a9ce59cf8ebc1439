package admin

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTopThroughTheAPI(t *testing.T) {
	a, px := newTestAdmin(t, "tok")
	l, err := poolNamed(px, "shop").Core().Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	a.Sample(time.Now(), nil)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	c := &Client{Base: strings.TrimPrefix(srv.URL, "http://"), Token: "tok"}
	reports, err := c.Pools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	WriteTop(&b, "test", reports, time.Now(), false)
	out := b.String()
	for _, want := range []string{"POOL", "STATUS", "ACT/IDLE/MAX", "shop ", "shop/reports", "1/0/4", "healthy"} {
		if !strings.Contains(out, want) {
			t.Errorf("top output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes without colour:\n%q", out)
	}
	b.Reset()
	WriteTop(&b, "test", reports, time.Now(), true)
	if !strings.Contains(b.String(), "\x1b[32mhealthy") {
		t.Errorf("no colour for healthy:\n%q", b.String())
	}
	if _, err := (&Client{Base: srv.URL + "/nope"}).Pools(context.Background()); err == nil {
		t.Error("bad base URL: no error")
	}
}
