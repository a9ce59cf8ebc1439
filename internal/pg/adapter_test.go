package pg

import (
	"io"
	"testing"
)

// TestAdapterIsClosedByTheProxy: proxy.Proxy.Close closes its protocol when it is an
// io.Closer; the adapter must be one, or its cancel-forwarding goroutines outlive the
// proxy unwaited.
func TestAdapterIsClosedByTheProxy(t *testing.T) {
	var a any = New(Config{})
	if _, ok := a.(io.Closer); !ok {
		t.Fatal("*Adapter is not an io.Closer")
	}
}
