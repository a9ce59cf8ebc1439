package pg

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

// copyIn is a script step: answer a COPY FROM STDIN, take CopyData until CopyDone
// (hashing it, without holding it) and report the bytes and hash received.
func copyIn(got chan<- string) pgtest.Step {
	return func(c *pgtest.Conn) error {
		if err := c.Send(&pgproto3.CopyInResponse{OverallFormat: 0}); err != nil {
			return err
		}
		h, n := sha256.New(), 0
		for {
			typ, size, err := c.ReceiveLarge(h)
			if err != nil {
				return err
			}
			switch typ {
			case 'd':
				n += size
				continue
			case 'c':
				got <- fmt.Sprintf("%d %x", n, h.Sum(nil))
				return c.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY 1")}, readyI)
			}
			return fmt.Errorf("got %q during COPY", typ)
		}
	}
}

// TestMessagesAfterAStreamedMessageAreRelayed: a message larger than the relay buffer
// is streamed through; what the client sent after it in the same write must be
// relayed at once, not when the client next sends something (it is waiting for the
// answers).
func TestMessagesAfterAStreamedMessageAreRelayed(t *testing.T) {
	t.Parallel()
	t.Run("CopyDone after large CopyData", func(t *testing.T) {
		t.Parallel()
		got := make(chan string, 1)
		e := scripted(t, envOptions{limit: 1}, pgtest.Script{
			pgtest.Login(nil), pgtest.ExpectQuery("COPY t FROM STDIN"), copyIn(got),
		})
		c := e.connect()
		c.send(&pgproto3.Query{String: "COPY t FROM STDIN"})
		require.Equal(t, "CopyInResponse", types([]pgproto3.BackendMessage{c.receive()}))
		data := bytes.Repeat([]byte("row\n"), clientBufSize) // four buffers' worth
		b, _ := (&pgproto3.CopyData{Data: data}).Encode(nil)
		b, _ = (&pgproto3.CopyDone{}).Encode(b)
		require.NoError(t, c.sendRaw(b))
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.untilReady()))
		sum := sha256.Sum256(data)
		assert.Equal(t, fmt.Sprintf("%d %x", len(data), sum), <-got)
	})
	t.Run("a query after a large query", func(t *testing.T) {
		t.Parallel()
		big := "SELECT '" + string(bytes.Repeat([]byte("x"), 2*clientBufSize)) + "'"
		e := newEnv(t, envOptions{limit: 1}, respondLogin)
		c := e.connect()
		c.send(&pgproto3.Query{String: big}, &pgproto3.Query{String: "SELECT 2"})
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.untilReady()))
		assert.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.untilReady()))
	})
}

// TestLargeMessagesStreamWithBoundedMemory: a client's 64 MiB CopyData and a server's
// 64 MiB DataRow cross motorpool without it ever holding either whole: the bytes
// allocated while they pass are a small fraction of their size (the test's own
// reading and writing reuse fixed buffers).
func TestLargeMessagesStreamWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 128 MiB")
	}
	const size = 64 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	got := make(chan string, 1)
	e := scripted(t, envOptions{limit: 1}, pgtest.Script{
		pgtest.Login(nil),
		pgtest.ExpectQuery("COPY t FROM STDIN"), copyIn(got),
		pgtest.ExpectQuery("SELECT big"),
		func(c *pgtest.Conn) error {
			// DataRow: one column of size bytes, written in chunks.
			hdr := binary.BigEndian.AppendUint32([]byte{'D'}, uint32(4+2+4+size))
			hdr = binary.BigEndian.AppendUint16(hdr, 1)
			hdr = binary.BigEndian.AppendUint32(hdr, size)
			if err := c.SendRaw(hdr); err != nil {
				return err
			}
			for n := 0; n < size; n += len(chunk) {
				if err := c.SendRaw(chunk); err != nil {
					return err
				}
			}
			return c.Send(select1, readyI)
		},
	})
	c := e.connect()
	c.send(&pgproto3.Query{String: "COPY t FROM STDIN"})
	require.Equal(t, "CopyInResponse", types([]pgproto3.BackendMessage{c.receive()}))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	require.NoError(t, c.sendRaw(binary.BigEndian.AppendUint32([]byte{'d'}, size+4)))
	for n := 0; n < size; n += len(chunk) {
		require.NoError(t, c.sendRaw(chunk))
	}
	done, _ := (&pgproto3.CopyDone{}).Encode(nil)
	require.NoError(t, c.sendRaw(done))
	require.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.untilReady()))
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(size/8), "client to server: allocated while 64 MiB passed")
	require.Equal(t, fmt.Sprint(size), bytesOf(<-got))

	runtime.GC()
	runtime.ReadMemStats(&before)
	c.send(&pgproto3.Query{String: "SELECT big"})
	buf := make([]byte, 64<<10)
	typ, n, err := readLarge(c, buf)
	require.NoError(t, err)
	require.Equal(t, byte('D'), typ)
	require.Equal(t, 4+2+4+size, n)
	require.Equal(t, "CommandComplete ReadyForQuery(I)", types(c.untilReady()))
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(size/8), "server to client: allocated while 64 MiB passed")
}

func bytesOf(s string) string {
	var n int
	fmt.Sscan(s, &n)
	return fmt.Sprint(n)
}

// readLarge reads one message of any size into a reused buffer, discarding it.
func readLarge(c *client, buf []byte) (typ byte, n int, err error) {
	var h [5]byte
	if _, err := io.ReadFull(c.conn, h[:]); err != nil {
		return 0, 0, err
	}
	n = int(binary.BigEndian.Uint32(h[1:]))
	if n < 4 {
		return 0, 0, errors.New("invalid length")
	}
	_, err = io.CopyBuffer(io.Discard, io.LimitReader(c.conn, int64(n-4)), buf)
	return h[0], n, err
}
