package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWatchFile: a change is seen whether the file is edited in place, replaced
// by a rename, or is a symlink whose target is edited or repointed (as a
// Kubernetes ConfigMap mount does with its ..data link).
func TestWatchFile(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) string // returns the file to watch
		change func(t *testing.T, dir string)
	}{
		{"edited in place", plainFile, func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "m.yaml"), "b")
		}},
		{"replaced by rename", plainFile, func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "m.yaml.tmp"), "b")
			require.NoError(t, os.Rename(filepath.Join(dir, "m.yaml.tmp"), filepath.Join(dir, "m.yaml")))
		}},
		{"symlink target edited", linkedFile, func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "v1", "m.yaml"), "b")
		}},
		{"symlink repointed", linkedFile, func(t *testing.T, dir string) {
			require.NoError(t, os.Mkdir(filepath.Join(dir, "v2"), 0o755))
			writeFile(t, filepath.Join(dir, "v2", "m.yaml"), "b")
			require.NoError(t, os.Symlink("v2", filepath.Join(dir, "..data_tmp")))
			require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := tt.setup(t, dir)
			changed := make(chan struct{}, 1)
			stop, err := watchFile(file, func() { trySend(changed) })
			require.NoError(t, err)
			defer stop()
			tt.change(t, dir)
			select {
			case <-changed:
			case <-time.After(5 * time.Second):
				t.Fatal("the change was not seen")
			}
		})
	}
}

func plainFile(t *testing.T, dir string) string {
	file := filepath.Join(dir, "m.yaml")
	writeFile(t, file, "a")
	return file
}

// linkedFile lays dir out as a ConfigMap mount: m.yaml -> ..data/m.yaml,
// ..data -> v1.
func linkedFile(t *testing.T, dir string) string {
	require.NoError(t, os.Mkdir(filepath.Join(dir, "v1"), 0o755))
	writeFile(t, filepath.Join(dir, "v1", "m.yaml"), "a")
	require.NoError(t, os.Symlink("v1", filepath.Join(dir, "..data")))
	file := filepath.Join(dir, "m.yaml")
	require.NoError(t, os.Symlink(filepath.Join("..data", "m.yaml"), file))
	return file
}

func writeFile(t *testing.T, name, data string) {
	require.NoError(t, os.WriteFile(name, []byte(data), 0o644))
}
