package pgtest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Startup packet codes.
const (
	codeSSL    = 1234<<16 | 5679
	codeGSSEnc = 1234<<16 | 5680
	codeCancel = 1234<<16 | 5678
)

// CancelRequest is a cancel request the server received.
type CancelRequest struct {
	PID, Secret uint32
}

// Server is a fake PostgreSQL server on a loopback port.
type Server struct {
	ln     net.Listener
	handle func(*Conn)
	wg     sync.WaitGroup

	mu      sync.Mutex // protects the fields below
	conns   map[*Conn]struct{}
	cancels []CancelRequest
	notify  chan struct{} // closed and replaced whenever a cancel arrives
	accepts int
	closed  bool
	hold    <-chan struct{} // see HoldCancels
}

// NewServer starts a server whose connections run handle once their StartupMessage is
// read. The server closes when the test ends, closing every connection and waiting
// for the handlers.
func NewServer(tb testing.TB, handle func(*Conn)) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pgtest: listen: %v", err)
	}
	s := &Server{ln: ln, handle: handle, conns: make(map[*Conn]struct{}), notify: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.Close)
	return s
}

// HoldCancels makes the server keep the connection of each cancel request it records
// open until release is closed (or the server closes), as a server slow to act on
// cancels: the sender, which waits for the close, is held up meanwhile.
func (s *Server) HoldCancels(release <-chan struct{}) {
	s.mu.Lock()
	s.hold = release
	s.mu.Unlock()
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port returns the server's port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Accepts returns how many connections (cancel requests included) the server accepted.
func (s *Server) Accepts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts
}

// Cancels returns the cancel requests received so far.
func (s *Server) Cancels() []CancelRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CancelRequest(nil), s.cancels...)
}

// WaitCancels waits until n cancel requests have arrived, or d has passed, and returns
// those received.
func (s *Server) WaitCancels(n int, d time.Duration) []CancelRequest {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		got, ch := append([]CancelRequest(nil), s.cancels...), s.notify
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			return got
		}
	}
}

// Close stops the server, closes its connections and waits for their handlers.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	pid := uint32(1000)
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		pid++
		c := &Conn{Conn: nc, PID: pid, Secret: pid*7 + 1, srv: s}
		s.mu.Lock()
		s.accepts++
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *Server) serve(c *Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	for {
		code, body, err := readStartup(c.Conn)
		if err != nil {
			return
		}
		switch code {
		case codeSSL, codeGSSEnc:
			if _, err := c.Conn.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		case codeCancel:
			if len(body) >= 8 {
				s.mu.Lock()
				s.cancels = append(s.cancels, CancelRequest{PID: binary.BigEndian.Uint32(body), Secret: binary.BigEndian.Uint32(body[4:])})
				close(s.notify)
				s.notify = make(chan struct{})
				hold := s.hold
				s.mu.Unlock()
				if hold != nil {
					done := make(chan struct{})
					go func() {
						select {
						case <-hold:
						case <-done:
						}
						c.Close()
					}()
					io.Copy(io.Discard, c.Conn) // until released, or closed with the server
					close(done)
				}
			}
			return
		}
		c.Params = parseParams(body)
		c.Version = code
		s.handle(c)
		return
	}
}

// readStartup reads an untyped startup packet.
func readStartup(r io.Reader) (code uint32, body []byte, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4]))
	if n < 8 || n > 10000 {
		return 0, nil, errors.New("pgtest: invalid startup packet length")
	}
	body = make([]byte, n-8)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return binary.BigEndian.Uint32(hdr[4:]), body, nil
}

func parseParams(b []byte) map[string]string {
	out := make(map[string]string)
	for {
		k, rest, ok := cstring(b)
		if !ok || k == "" {
			return out
		}
		v, rest2, ok := cstring(rest)
		if !ok {
			return out
		}
		out[k], b = v, rest2
	}
}

func cstring(b []byte) (string, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return "", nil, false
}
