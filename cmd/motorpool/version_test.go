package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestVersionOf: a "dev" build names the commit go build recorded, so that
// two dev binaries can be told apart; a release version is kept as set.
func TestVersionOf(t *testing.T) {
	info := func(kv ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{}
		for i := 0; i < len(kv); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return b
	}
	rev := "5a2c2b7e1f3a0123456789abcdef0123456789ab"
	assert.Equal(t, "dev 5a2c2b7e1f3a", versionOf("dev", info("vcs.revision", rev, "vcs.modified", "false")))
	assert.Equal(t, "dev 5a2c2b7e1f3a+modified", versionOf("dev", info("vcs.revision", rev, "vcs.modified", "true")))
	assert.Equal(t, "dev", versionOf("dev", info()))
	assert.Equal(t, "dev", versionOf("dev", nil))
	assert.Equal(t, "v1.2.3", versionOf("v1.2.3", info("vcs.revision", rev)))
}
