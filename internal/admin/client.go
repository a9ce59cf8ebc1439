package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/motorpool/motorpool/internal/monitor"
)

// Client is a client of a running motorpool's admin HTTP API, for the
// subcommands that are not serve (motorpool top).
type Client struct {
	// Base is the API's base URL, "http://127.0.0.1:8080"; a bare host:port
	// gets "http://" in front.
	Base string
	// Token is sent as a bearer token when set.
	Token string
	// HTTP is the client used; nil means one with a 5-second timeout.
	HTTP *http.Client
}

// Pools fetches every pool's dashboard.
func (c *Client) Pools(ctx context.Context) ([]monitor.Report, error) {
	var out []monitor.Report
	return out, c.get(ctx, "/api/v1/pools", &out)
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	base := c.Base
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
