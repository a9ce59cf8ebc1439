package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRelaysBothWaysAndHangsUp runs the built command in both system-call modes in
// front of an echo server: what a client writes comes back whole, and the client sees
// end of stream when the backend hangs up.
func TestRelaysBothWaysAndHangsUp(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "epoll-floor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 1<<20)
				for {
					n, err := c.Read(b)
					if err != nil || bytes.HasPrefix(b[:n], []byte("bye")) {
						return
					}
					if _, err := c.Write(b[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()

	for _, raw := range []string{"-raw=true", "-raw=false"} {
		t.Run(raw, func(t *testing.T) {
			addr := freeAddr(t)
			cmd := exec.Command(bin, "-listen", addr, "-backend", backend.Addr().String(), raw)
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			c := dialRetry(t, addr)
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))

			msg := bytes.Repeat([]byte("0123456789"), 10000) // more than the relay reads at once
			go c.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("echo: %v", err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatal("the echo differs from what was sent")
			}
			if _, err := c.Write([]byte("bye")); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Read(got); err != io.EOF {
				t.Fatalf("after the backend hung up: read %d bytes, %v; want EOF", n, err)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func dialRetry(t *testing.T, addr string) net.Conn {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
