package pgtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Step is one step of a script.
type Step func(*Conn) error

// Script is a sequence of steps, played in order until one fails.
type Script []Step

// Run plays the script on c.
func (s Script) Run(c *Conn) error {
	for _, step := range s {
		if err := step(c); err != nil {
			return err
		}
	}
	return nil
}

// Login answers the startup (see Conn.Login).
func Login(params map[string]string) Step { return func(c *Conn) error { return c.Login(params) } }

// Expect reads one message that must encode exactly as want.
func Expect(want pgproto3.FrontendMessage) Step { return func(c *Conn) error { return c.Expect(want) } }

// ExpectQuery reads one message that must be the Query sql.
func ExpectQuery(sql string) Step { return func(c *Conn) error { return c.ExpectQuery(sql) } }

// ExpectType reads one message of type typ, whatever its body.
func ExpectType(typ byte) Step {
	return func(c *Conn) error {
		m, err := c.Receive()
		if err != nil {
			return err
		}
		if m.Type != typ {
			return errors.New("pgtest: got " + m.String() + ", want type " + string(typ))
		}
		return nil
	}
}

// Send writes messages.
func Send(msgs ...pgproto3.BackendMessage) Step {
	return func(c *Conn) error { return c.Send(msgs...) }
}

// SendRaw writes bytes as they are.
func SendRaw(b []byte) Step { return func(c *Conn) error { return c.SendRaw(b) } }

// Close closes the connection.
func Close() Step { return func(c *Conn) error { c.Close(); return nil } }

// WaitClose reads and discards until the peer closes the connection.
func WaitClose() Step {
	return func(c *Conn) error {
		_, err := io.Copy(io.Discard, c.reader())
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	}
}

// Respond answers everything sent until the connection closes (see Respond).
func RespondAll() Step { return func(c *Conn) error { return Respond(c) } }

// Sequence returns a connection handler that plays scripts[i] on the i-th connection
// the server hands it, then answers what follows with Respond; connections beyond the
// scripts log in and Respond. A script's error is passed to report.
func Sequence(report func(error), scripts ...Script) func(*Conn) {
	var mu sync.Mutex
	next := 0
	return func(c *Conn) {
		mu.Lock()
		i := next
		next++
		mu.Unlock()
		s := Script{Login(nil)}
		if i < len(scripts) {
			s = scripts[i]
		}
		if err := append(s, RespondAll()).Run(c); err != nil {
			report(fmt.Errorf("connection %d: %w", i, err))
		}
	}
}

// WaitCancel waits until the server has received a cancel request for this
// connection.
func WaitCancel(d time.Duration) Step {
	return func(c *Conn) error {
		deadline := time.Now().Add(d)
		for n := 1; ; n++ {
			for _, cr := range c.srv.WaitCancels(n, time.Until(deadline)) {
				if cr.PID == c.PID && cr.Secret == c.Secret {
					return nil
				}
			}
			if time.Now().After(deadline) {
				return errors.New("pgtest: no cancel request for the connection")
			}
		}
	}
}
