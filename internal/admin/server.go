package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is the admin HTTP server on admin.listen.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve returns
	err  error         // Serve's error, other than ErrServerClosed; read after done
}

// Listen binds addr for handler h and starts serving it on its own
// goroutine. An address already in use is an error naming admin.listen.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin.listen %s: %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, waits for requests in flight until ctx ends, then
// closes the remaining connections. It returns the server's error, if it
// failed on its own.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	if s.err != nil {
		return s.err
	}
	return err
}
