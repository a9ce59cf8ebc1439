package pg

import (
	"errors"
	"io"
	"net"
	"sync"
)

const (
	// clientBufSize is the relay buffer of a client connection. It is borrowed from a
	// pool while the client is active and returned when the client goes idle, so idle
	// clients hold no buffer.
	clientBufSize = 16 << 10

	// serverBufSize is the relay buffer of a server connection (PostgreSQL's own send
	// buffer is 8 KiB; one read usually takes a whole response).
	serverBufSize = 32 << 10

	// maxInspectLen bounds messages the relay must hold whole to rewrite or inspect
	// (Parse, Bind, Describe, Close, Query). Larger ones are streamed or refused.
	maxInspectLen = 64 << 20
)

var errMessageTooLong = errors.New("message length out of range")

// bufPool recycles client relay buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, clientBufSize); return &b }}

// reader buffers messages read from one connection. buf[r:w] holds bytes read but not
// yet consumed. It is used by one goroutine at a time.
type reader struct {
	conn net.Conn
	buf  []byte
	r, w int
	// pooled is the bufPool entry buf came from, nil if buf is the reader's own.
	pooled *[]byte
}

// buffered returns the unconsumed bytes.
func (rd *reader) buffered() []byte { return rd.buf[rd.r:rd.w] }

// empty reports whether no unconsumed byte is buffered.
func (rd *reader) empty() bool { return rd.r == rd.w }

// acquire makes sure rd has a buffer, borrowing one from the pool if it has none.
func (rd *reader) acquire() {
	if rd.buf == nil {
		rd.pooled = bufPool.Get().(*[]byte)
		rd.buf = *rd.pooled
		rd.r, rd.w = 0, 0
	}
}

// release returns a pooled buffer, or drops one grown for a large message, once
// nothing is left in it.
func (rd *reader) release() {
	if rd.r != rd.w {
		return
	}
	if rd.pooled != nil {
		bufPool.Put(rd.pooled)
		rd.buf, rd.pooled = nil, nil
	} else if len(rd.buf) > clientBufSize {
		rd.buf = nil
	}
	rd.r, rd.w = 0, 0
}

// fill reads at least one byte more, compacting the buffer first when its tail is full.
func (rd *reader) fill() error {
	rd.acquire()
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
	} else if rd.w == len(rd.buf) {
		if rd.r == 0 {
			return io.ErrShortBuffer
		}
		rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r = 0
	}
	n, err := rd.conn.Read(rd.buf[rd.w:])
	rd.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// peekHeader returns the header of the next message if five bytes are buffered.
func (rd *reader) peekHeader() (h header, ok bool, err error) {
	if rd.w-rd.r < headerLen {
		return header{}, false, nil
	}
	h, valid := parseHeader(rd.buf[rd.r:])
	if !valid {
		return h, false, errMessageTooLong
	}
	return h, true, nil
}

// whole reads until the next message is entirely buffered and returns it, header
// included. The message must fit in max bytes; the buffer grows up to that size.
func (rd *reader) whole(h header, max int) ([]byte, error) {
	if h.size > max {
		return nil, errMessageTooLong
	}
	if h.size > len(rd.buf) {
		nb := make([]byte, h.size)
		rd.w = copy(nb, rd.buf[rd.r:rd.w])
		rd.r = 0
		if rd.pooled != nil {
			bufPool.Put(rd.pooled)
			rd.pooled = nil
		}
		rd.buf = nb
	}
	for rd.w-rd.r < h.size {
		if rd.r > 0 && len(rd.buf)-rd.r < h.size {
			rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
			rd.r = 0
		}
		if err := rd.fill(); err != nil {
			return nil, err
		}
	}
	msg := rd.buf[rd.r : rd.r+h.size]
	rd.r += h.size
	return msg, nil
}

// shrink drops an oversized buffer grown by whole, once it is drained.
func (rd *reader) shrink(size int) {
	if len(rd.buf) > size && rd.r == rd.w && rd.pooled == nil {
		rd.buf = nil
		rd.r, rd.w = 0, 0
	}
}

// skip consumes n bytes.
func (rd *reader) skip(n int) { rd.r += n }

// stream copies the next n bytes to w (nil discards them) with bounded memory: what is
// buffered first, then reads straight through the buffer.
func (rd *reader) stream(w io.Writer, n int) error {
	for n > 0 {
		if rd.r == rd.w {
			if err := rd.fill(); err != nil {
				return err
			}
		}
		chunk := min(n, rd.w-rd.r)
		if w != nil {
			if _, err := w.Write(rd.buf[rd.r : rd.r+chunk]); err != nil {
				return err
			}
		}
		rd.r += chunk
		n -= chunk
	}
	return nil
}
