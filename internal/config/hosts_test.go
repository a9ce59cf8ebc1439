package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAllowedHosts: admin.allowed_hosts is decoded as written, shown by
// `motorpool check` with its position, and empty by default.
func TestAllowedHosts(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, `
		auth: { type: trust }
		admin:
		  allowed_hosts: [motorpool.internal, "*.Example.com", pooler., db_proxy-1.svc]
		databases:
		  db: { url: "postgresql://h/db" }`)
	assert.Equal(t, []string{"motorpool.internal", "*.Example.com", "pooler.", "db_proxy-1.svc"}, cfg.Admin.AllowedHosts)
	assert.Empty(t, cfg.Warnings)
	var entry *Entry
	for _, e := range cfg.Sections()[0].Entries {
		if e.Key == "admin.allowed_hosts" {
			entry = &e
		}
	}
	require.NotNil(t, entry, "motorpool check does not show admin.allowed_hosts")
	assert.Equal(t, "motorpool.internal,*.Example.com,pooler.,db_proxy-1.svc", entry.Value)
	assert.Equal(t, "test.yaml:3:18", entry.Origin.String())

	assert.Empty(t, mustParse(t, "auth: { type: trust }\n"+okDB).Admin.AllowedHosts)
}

func TestAllowedHostsErrors(t *testing.T) {
	t.Parallel()
	long := "a234567890123456789012345678901234567890123456789012345678901234" // a 64-byte label
	tests := []struct {
		name, hosts string
		want        []string
	}{
		{"not a list", `motorpool.internal`,
			[]string{"test.yaml:1:25: admin.allowed_hosts: want a list, got a scalar"}},
		{"a mapping item", `[{ a: b }]`,
			[]string{"test.yaml:1:26: admin.allowed_hosts[0]: want a single value, got a mapping"}},
		{"empty", `[ok.example, ""]`,
			[]string{`test.yaml:1:38: admin.allowed_hosts[1]: want a host name (admin.example.com) or *. and one (*.example.com), got an empty string`}},
		{"null item", `[~]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: want a host name (admin.example.com) or *. and one (*.example.com), got an empty string`}},
		{"a port", `["admin.example.com:8080"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: want a host name without a port (any port is allowed), got "admin.example.com:8080"; remove :8080`}},
		{"a URL", `["https://admin.example.com/"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: want a host name (admin.example.com) or *. and one (*.example.com), not a URL, got "https://admin.example.com/"`}},
		{"a wildcard inside", `["admin.*.example.com"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: * may only stand for the first labels, as in *.example.com, got "admin.*.example.com"`}},
		{"a wildcard alone", `["*"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: * may only stand for the first labels, as in *.example.com, got "*"`}},
		{"a wildcard without a dot", `["*example.com"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: * may only stand for the first labels, as in *.example.com, got "*example.com"`}},
		{"a space", `["admin example.com"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: want a host name (admin.example.com) or *. and one (*.example.com), got "admin example.com"`}},
		{"an empty label", `["admin..example.com"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: want a host name (admin.example.com) or *. and one (*.example.com), got "admin..example.com"`}},
		{"a label starting with a hyphen", `["-admin.example.com"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: want a host name (admin.example.com) or *. and one (*.example.com), got "-admin.example.com"`}},
		{"a label of 64 bytes", `["` + long + `.example.com"]`,
			[]string{`test.yaml:1:26: admin.allowed_hosts[0]: want a host name (admin.example.com) or *. and one (*.example.com), got "` + long[:60] + `..."`}},
		{"two bad items, both reported", `["", "a b"]`, []string{
			`test.yaml:1:26: admin.allowed_hosts[0]: want a host name (admin.example.com) or *. and one (*.example.com), got an empty string`,
			`test.yaml:1:30: admin.allowed_hosts[1]: want a host name (admin.example.com) or *. and one (*.example.com), got "a b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := "admin: { allowed_hosts: " + tt.hosts + " }\nauth: { type: trust }\n" + okDB
			assert.Equal(t, tt.want, parseErrors(t, yaml, nil))
		})
	}
}

// TestAllowedHostsIPLiteral: an IP literal is allowed whatever the list says,
// so listing one is only warned about.
func TestAllowedHostsIPLiteral(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, "admin: { allowed_hosts: [10.0.0.5, \"[::1]\", pooler] }\nauth: { type: trust }\n"+okDB)
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, w.Error())
	}
	assert.Equal(t, []string{
		"test.yaml:1:26: admin.allowed_hosts[0]: IP literals are always allowed; 10.0.0.5 need not be listed",
		"test.yaml:1:36: admin.allowed_hosts[1]: IP literals are always allowed; [::1] need not be listed",
	}, got)
	assert.Equal(t, []string{"10.0.0.5", "[::1]", "pooler"}, cfg.Admin.AllowedHosts)
}

func TestAdminLoopback(t *testing.T) {
	t.Parallel()
	for listen, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:8080": true, "[::1]:8080": true,
		"localhost:8080": true, "LocalHost:0": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.5:8080": false,
		"admin.example.com:8080": false, "localhost.example.com:8080": false, "127.0.0.1": false,
	} {
		assert.Equal(t, want, Admin{Listen: listen}.Loopback(), listen)
	}
}

// TestAllowedHostsReloadLive: like admin.token, a changed admin.allowed_hosts
// applies live; only admin.listen needs a restart.
func TestAllowedHostsReloadLive(t *testing.T) {
	t.Parallel()
	old := mustParse(t, "admin: { allowed_hosts: [a.example] }\nauth: { type: trust }\n"+okDB)
	c := Diff(old, mustParse(t, "admin: { allowed_hosts: [a.example, \"*.b.example\"] }\nauth: { type: trust }\n"+okDB))
	assert.Equal(t, []Change{{Key: "admin.allowed_hosts", Old: "a.example", New: "a.example,*.b.example", Effect: ApplyLive}}, c.Global)
	assert.Equal(t, ApplyLive, c.Effect())
}
