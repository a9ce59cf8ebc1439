package pool_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/motorpool/motorpool/pool"
)

// Example pools TCP connections to an echo server.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go echo(ln)

	p, err := pool.New(pool.Config[net.Conn]{
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", ln.Addr().String())
		},
		// Close is nil: net.Conn is an io.Closer, so the pool calls its Close.
		MinSize:        1,
		MaxSize:        4,
		AcquireTimeout: 5 * time.Second,
		IdleTimeout:    time.Minute,
		MaxLifetime:    time.Hour,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())

	ctx := context.Background()
	for i := range 3 {
		lease, err := p.AcquireAs(ctx, "example")
		if err != nil {
			fmt.Println(err)
			return
		}
		reply, err := roundTrip(lease.Conn(), fmt.Sprintf("hello %d", i))
		if err != nil {
			lease.Destroy(err) // broken: do not give it back
			fmt.Println(err)
			return
		}
		lease.Release()
		fmt.Println(reply)
	}
	s := p.Stats()
	fmt.Printf("acquired %d, opened %d\n", s.Acquired, s.Created)
	// Output:
	// hello 0
	// hello 1
	// hello 2
	// acquired 3, opened 1
}

func roundTrip(c net.Conn, msg string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return line[:max(len(line)-1, 0)], err
}

func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}
