package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/monitor"
)

// TestDoctorExitStatus: doctor's exit status says how bad the worst pool is, and 3
// when motorpool cannot be asked.
func TestDoctorExitStatus(t *testing.T) {
	for _, tt := range []struct {
		status monitor.Status
		code   int
	}{{monitor.Healthy, 0}, {monitor.Fair, 0}, {monitor.Warning, 1}, {monitor.Critical, 2}} {
		t.Run(string(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "/api/v1/pools", r.URL.Path)
				json.NewEncoder(w).Encode([]monitor.Report{{Pool: monitor.PoolInfo{Name: "shop"}, Status: tt.status}})
			}))
			defer srv.Close()
			out, _, code := run(t, "doctor", "--addr", strings.TrimPrefix(srv.URL, "http://"))
			assert.Equal(t, tt.code, code)
			assert.Contains(t, out, "shop: "+string(tt.status))
		})
	}
	_, errOut, code := run(t, "doctor", "--addr", "127.0.0.1:1")
	assert.Equal(t, 3, code)
	assert.Contains(t, errOut, "motorpool doctor: cannot ask motorpool's admin API at 127.0.0.1:1 (is motorpool running")
}

// TestDoctorWrongAddr: --addr at something that is not the admin API (here a
// server that does not speak HTTP, as motorpool's PostgreSQL port does not)
// says which address doctor and top want, instead of only the HTTP client's
// "malformed HTTP status code"; an HTTP error of the API is shown as it is.
func TestDoctorWrongAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("E\x00\x00\x00\x08length"))
			c.Close()
		}
	}()
	_, errOut, code := run(t, "doctor", "--addr", ln.Addr().String())
	assert.Equal(t, 3, code)
	assert.Contains(t, errOut, "is that its admin.listen, not its listen?")

	_, errOut, code = run(t, "top", "--once", "--addr", ln.Addr().String())
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "cannot ask motorpool's admin API at "+ln.Addr().String())

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	_, errOut, code = run(t, "doctor", "--addr", strings.TrimPrefix(srv.URL, "http://"))
	assert.Equal(t, 3, code)
	assert.Contains(t, errOut, "500 Internal Server Error: boom")
	assert.NotContains(t, errOut, "cannot ask")
}
