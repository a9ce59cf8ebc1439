package pool_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/motorpool/motorpool/internal/testenv"
	"go.uber.org/goleak"
)

// TestMain stops the PostgreSQL servers the tests started, then checks that
// no goroutine outlived its test.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Shutdown()
	if code == 0 {
		// testenv's spawner lives as long as the binary, by design.
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/motorpool/motorpool/internal/testenv.onSpawnThread.func1.1")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
