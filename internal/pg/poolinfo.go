package pg

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/motorpool/motorpool/internal/proxy"
)

// poolInfo is what the adapter learns about a pool's server connections.
type poolInfo struct {
	mu    sync.Mutex
	base  map[string]string            // ParameterStatus of a fresh server connection
	valid map[string]map[string]string // settings fingerprint -> their reported values
}

func poolInfoOf(p *proxy.Pool) *poolInfo {
	return p.Attachment(func() any { return &poolInfo{valid: make(map[string]map[string]string)} }).(*poolInfo)
}

// baseline returns the ParameterStatus values of the pool's server connections,
// borrowing one connection the first time.
func (pi *poolInfo) baseline(ctx context.Context, sess *proxy.Session) (map[string]string, error) {
	pi.mu.Lock()
	base := pi.base
	pi.mu.Unlock()
	if base != nil {
		return base, nil
	}
	lease, err := sess.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	base = lease.Backend().(*ServerConn).Params()
	sess.Release(lease)
	pi.mu.Lock()
	pi.base = base
	pi.mu.Unlock()
	return base, nil
}

// validated returns the reported values for settings known to be accepted.
func (pi *poolInfo) validated(fingerprint string) (map[string]string, bool) {
	if fingerprint == "" {
		return nil, true
	}
	pi.mu.Lock()
	defer pi.mu.Unlock()
	v, ok := pi.valid[fingerprint]
	return v, ok
}

// remember records settings a server accepted. The cache is bounded: distinct client
// settings are few in practice, and forgetting only costs a check at login.
func (pi *poolInfo) remember(fingerprint string, reported map[string]string) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	if len(pi.valid) >= 1000 {
		clear(pi.valid)
	}
	pi.valid[fingerprint] = maps.Clone(reported)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
