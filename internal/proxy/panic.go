package proxy

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic (a bug) that the goroutine serving one client or one server
// connection recovered and turned into the end of that connection, with the stack
// where it happened. The proxy logs it as an error. A protocol adapter returns it from
// Serve, or gives it as the cause when it destroys a server connection.
type PanicError struct {
	Value any
	Stack []byte
}

// Recovered returns the PanicError of v, a value recover returned, with the stack of
// the calling goroutine; call it in the deferred function that recovered.
func Recovered(v any) *PanicError { return &PanicError{Value: v, Stack: debug.Stack()} }

func (e *PanicError) Error() string { return fmt.Sprintf("internal error: panic: %v", e.Value) }
