package pg

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection, the first wrapped by fastConn.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	fc := fastConn(c)
	if _, ok := fc.(*rawConn); !ok {
		t.Fatalf("fastConn(%T) = %T, want *rawConn", c, fc)
	}
	t.Cleanup(func() { fc.Close(); peer.Close() })
	return fc, peer
}

func TestRawConnMovesLargeWritesBothWays(t *testing.T) {
	c, peer := tcpPair(t)
	// Far more than the socket buffers hold: Write must wait for room and finish.
	want := bytes.Repeat([]byte("motorpool-"), 1<<20)
	done := make(chan error, 1)
	go func() {
		n, err := c.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		done <- err
	}()
	got, err := io.ReadAll(io.LimitReader(peer, int64(len(want))))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("peer read %d bytes, err %v; want the %d written", len(got), err, len(want))
	}
	if err := <-done; err != nil {
		t.Fatalf("Write: %v", err)
	}

	go func() { peer.Write(want); peer.Close() }()
	got, err = io.ReadAll(c) // reads until io.EOF
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, err %v; want the %d written and EOF", len(got), err, len(want))
	}
}

// TestRawConnWritesConcurrently: like net.Conn's, Write is safe for concurrent use
// (a server connection's Close says goodbye while a leaving client's cleanup may be
// writing) and each Write arrives whole, never interleaved with another.
func TestRawConnWritesConcurrently(t *testing.T) {
	c, peer := tcpPair(t)
	const writers, writes, size = 8, 100, 5000 // more than the socket buffers hold
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			msg := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range writes {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	got, err := io.ReadAll(io.LimitReader(peer, writers*writes*size))
	if err != nil || len(got) != writers*writes*size {
		t.Fatalf("peer read %d bytes, err %v", len(got), err)
	}
	for i := 0; i < len(got); i += size {
		if block := got[i : i+size]; !bytes.Equal(block, bytes.Repeat(block[:1], size)) {
			t.Fatalf("writes interleaved in the block at %d", i)
		}
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
}

func TestRawConnReadHonoursDeadlineAndClose(t *testing.T) {
	c, _ := tcpPair(t)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 10))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past the deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})

	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let Read park; it must wake either way
	c.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read of a closed connection: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write to a closed connection: %v, want net.ErrClosed", err)
	}
}

func TestRawConnReportsReset(t *testing.T) {
	c, peer := tcpPair(t)
	peer.(*net.TCPConn).SetLinger(0) // close with RST
	peer.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ { // the first writes may still be accepted
		_, err = c.Write(make([]byte, 1024))
		if err == nil {
			_, err = c.Read(make([]byte, 10))
		}
	}
	if !isDisconnect(err) {
		t.Fatalf("after a reset: %v, want an error isDisconnect recognises", err)
	}
}

func TestFastConnLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if fastConn(a) != a {
		t.Fatal("fastConn wrapped a net.Pipe")
	}
}
