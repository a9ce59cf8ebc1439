package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

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
	assert.Contains(t, errOut, "motorpool doctor:")
}
