package pg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chunkConn is a net.Conn whose reads return at most the next chunk size of bytes, so
// messages arrive split at arbitrary points.
type chunkConn struct {
	net.Conn
	data   []byte
	chunks []byte // read sizes, cycled; 0 reads 1 byte
	i      int
}

func (c *chunkConn) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.chunks) > 0 {
		n = max(1, int(c.chunks[c.i%len(c.chunks)]))
		c.i++
	}
	n = min(n, len(b), len(c.data))
	copy(b, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func msgBytes(typ byte, body []byte) []byte { return appendMsg(nil, typ, body) }

func TestParseHeader(t *testing.T) {
	t.Parallel()
	hdr := func(typ byte, n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{typ}, n) }
	tests := []struct {
		name string
		in   []byte
		size int
		ok   bool
	}{
		{"an empty body is five bytes", hdr('S', 4), 5, true},
		{"the size counts the type byte", hdr('Q', 13), 14, true},
		{"a length below 4 is invalid", hdr('Q', 3), 0, false},
		{"a zero length is invalid", hdr('Q', 0), 0, false},
		{"a negative length is invalid", hdr('Q', 0x80000000), 0, false},
		{"the largest length PostgreSQL accepts is valid", hdr('d', maxMessageLen), maxMessageLen + 1, true},
		{"1 GiB is invalid", hdr('d', maxMessageLen+1), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := parseHeader(tt.in)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.size, h.size)
			assert.Equal(t, tt.in[0], h.typ)
		})
	}
}

func TestCstring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		s, rest string
		ok      bool
		name    string
	}{
		{name: "a string and the rest", in: "ab\x00cd", s: "ab", rest: "cd", ok: true},
		{name: "an empty string", in: "\x00x", s: "", rest: "x", ok: true},
		{name: "no terminator", in: "abc", ok: false},
		{name: "nothing", in: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, rest, ok := cstring([]byte(tt.in))
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.s, string(s))
				assert.Equal(t, tt.rest, string(rest))
			}
		})
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	t.Run("whole grows the buffer for a large message and shrink drops it", func(t *testing.T) {
		big := msgBytes('Q', bytes.Repeat([]byte("x"), 100))
		rd := reader{conn: &chunkConn{data: big, chunks: []byte{7}}, buf: make([]byte, 16)}
		require.NoError(t, rd.fill())
		h, ok, err := rd.peekHeader()
		require.NoError(t, err)
		require.True(t, ok)
		msg, err := rd.whole(h, 200)
		require.NoError(t, err)
		assert.Equal(t, big, msg)
		assert.Len(t, rd.buf, len(big))
		rd.shrink(16)
		assert.Nil(t, rd.buf)
	})
	t.Run("whole refuses a message above its limit without reading it", func(t *testing.T) {
		rd := reader{conn: &chunkConn{data: msgBytes('Q', make([]byte, 100))}, buf: make([]byte, 16)}
		for rd.w < headerLen {
			require.NoError(t, rd.fill())
		}
		h, _, _ := rd.peekHeader()
		_, err := rd.whole(h, 50)
		assert.ErrorIs(t, err, errMessageTooLong)
		assert.Len(t, rd.buf, 16)
	})
	t.Run("stream passes a large message through a small buffer", func(t *testing.T) {
		body := bytes.Repeat([]byte("0123456789"), 1000)
		rd := reader{conn: &chunkConn{data: msgBytes('d', body), chunks: []byte{255}}, buf: make([]byte, 32)}
		require.NoError(t, rd.fill())
		h, _, _ := rd.peekHeader()
		w := &maxWriter{}
		require.NoError(t, rd.stream(w, h.size))
		assert.Equal(t, msgBytes('d', body), w.Bytes())
		assert.Len(t, rd.buf, 32, "the buffer never grows")
		assert.LessOrEqual(t, w.largest, 32, "no write is larger than the buffer")
	})
	t.Run("stream to nil discards", func(t *testing.T) {
		rd := reader{conn: &chunkConn{data: append(msgBytes('d', make([]byte, 100)), msgBytes('c', nil)...)}, buf: make([]byte, 8)}
		require.NoError(t, rd.fill())
		require.NoError(t, rd.stream(nil, 105))
		require.NoError(t, rd.fill())
		for rd.w-rd.r < headerLen {
			require.NoError(t, rd.fill())
		}
		h, ok, err := rd.peekHeader()
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, byte('c'), h.typ)
	})
	t.Run("an invalid length is reported by peekHeader", func(t *testing.T) {
		rd := reader{conn: &chunkConn{data: []byte{'Q', 0, 0, 0, 2}, chunks: []byte{5}}, buf: make([]byte, 16)}
		require.NoError(t, rd.fill())
		_, ok, err := rd.peekHeader()
		assert.False(t, ok)
		assert.ErrorIs(t, err, errMessageTooLong)
	})
	t.Run("a pooled buffer is borrowed while needed and given back when drained", func(t *testing.T) {
		rd := reader{conn: &chunkConn{data: msgBytes('S', nil), chunks: []byte{5}}}
		require.NoError(t, rd.fill())
		assert.NotNil(t, rd.pooled)
		assert.Len(t, rd.buf, clientBufSize)
		rd.release()
		assert.NotNil(t, rd.buf, "not drained: kept")
		rd.skip(5)
		rd.release()
		assert.Nil(t, rd.buf)
		assert.Nil(t, rd.pooled)
	})
	t.Run("fill reports the end of the stream", func(t *testing.T) {
		rd := reader{conn: &chunkConn{}, buf: make([]byte, 8)}
		assert.ErrorIs(t, rd.fill(), io.EOF)
	})
}

// maxWriter records what is written and the largest single write.
type maxWriter struct {
	bytes.Buffer
	largest int
}

func (w *maxWriter) Write(b []byte) (int, error) {
	w.largest = max(w.largest, len(b))
	return w.Buffer.Write(b)
}

// FuzzFraming reads arbitrary bytes, split into arbitrary reads, the way the relay
// and the pump do (whole messages up to a limit, larger ones streamed through a small
// buffer), and checks the messages against a direct parse of the bytes: same
// messages, an invalid length detected exactly where it is, and a buffer that grows
// only for messages read whole.
func FuzzFraming(f *testing.F) {
	f.Add(append(msgBytes('Q', []byte("SELECT 1\x00")), msgBytes('S', nil)...), []byte{3})
	f.Add(append(msgBytes('d', make([]byte, 300)), msgBytes('c', nil)...), []byte{1, 64})
	f.Add([]byte{'Q', 0, 0, 0, 3}, []byte{})
	f.Add([]byte{'Q', 0xff, 0xff, 0xff, 0xff, 0}, []byte{2})
	f.Add(msgBytes('P', make([]byte, 100))[:50], []byte{9})
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		const bufSize, maxWhole = 32, 128
		// The reference: messages parsed straight from data.
		var want [][]byte
		rest, invalid := data, false
		for len(rest) >= headerLen {
			h, ok := parseHeader(rest)
			if !ok {
				invalid = true
				break
			}
			if len(rest) < h.size {
				break
			}
			want = append(want, rest[:h.size])
			rest = rest[h.size:]
		}
		rd := reader{conn: &chunkConn{data: data, chunks: chunks}, buf: make([]byte, bufSize)}
		var got [][]byte
		for {
			h, ok, err := rd.peekHeader()
			if err != nil {
				if !invalid || len(got) != len(want) {
					t.Fatalf("invalid length reported after %d messages; reference: %d, invalid %v", len(got), len(want), invalid)
				}
				return
			}
			if !ok {
				if err := rd.fill(); err != nil {
					if !errors.Is(err, io.EOF) || invalid || len(got) != len(want) {
						t.Fatalf("fill: %v after %d messages; reference: %d, invalid %v", err, len(got), len(want), invalid)
					}
					return
				}
				continue
			}
			var msg []byte
			if h.size <= maxWhole {
				msg, err = rd.whole(h, maxWhole)
				msg = bytes.Clone(msg)
			} else {
				var w bytes.Buffer
				err = rd.stream(&w, h.size)
				msg = w.Bytes()
				if len(rd.buf) > maxWhole {
					t.Fatalf("buffer of %d bytes while streaming", len(rd.buf))
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) || len(got) != len(want) || invalid {
					t.Fatalf("read: %v after %d messages; reference: %d", err, len(got), len(want))
				}
				return
			}
			if len(got) >= len(want) || !bytes.Equal(msg, want[len(got)]) {
				t.Fatalf("message %d = %q, reference has %d messages", len(got), msg, len(want))
			}
			got = append(got, msg)
			rd.shrink(bufSize)
			if rd.buf == nil {
				rd.buf = make([]byte, bufSize)
			}
		}
	})
}
