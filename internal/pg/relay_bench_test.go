package pg

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/motorpool/motorpool/internal/config"
	"github.com/motorpool/motorpool/internal/proxy"
)

// benchServer is a minimal PostgreSQL server for relay benchmarks: it logs anyone in
// and answers every Query and Sync with a one-row result.
func benchServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveBench(c)
		}
	}()
	return ln.Addr().String()
}

var (
	benchRowDesc = appendMsg(nil, msgRowDescription, append(append([]byte{0, 1}, "x\x00"...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0))
	benchRows    = appendMsg(appendMsg(nil, msgDataRow, []byte{0, 1, 0, 0, 0, 1, '1'}), msgCommandComplete, []byte("SELECT 1\x00"))
	benchRow     = append(append([]byte(nil), benchRowDesc...), benchRows...)
)

func serveBench(c net.Conn) {
	defer c.Close()
	if _, err := readStartupPacket(c); err != nil {
		return
	}
	var login []byte
	login = appendMsg(login, msgAuthentication, []byte{0, 0, 0, 0})
	login = appendMsg(login, msgParameterStatus, []byte("server_version\x0015.0\x00"))
	login = appendMsg(login, msgBackendKeyData, []byte{0, 0, 0, 1, 0, 0, 0, 2})
	login = append(login, readyIdle...)
	c.Write(login)
	rd := reader{conn: c, buf: make([]byte, 8192)}
	var out []byte
	for {
		if err := rd.fill(); err != nil {
			return
		}
		for {
			h, ok, err := rd.peekHeader()
			if err != nil || !ok || rd.w-rd.r < h.size {
				break
			}
			switch h.typ {
			case msgQuery:
				out = append(append(out, benchRow...), readyIdle...)
			case msgParse:
				out = append(out, parseComplete...)
			case msgBind:
				out = append(out, msgBindComplete, 0, 0, 0, 4)
			case msgDescribe:
				out = append(out, msgNoData, 0, 0, 0, 4)
			case msgExecute:
				out = append(out, benchRows...)
			case msgSync:
				out = append(out, readyIdle...)
			case msgTerminate:
				return
			}
			rd.skip(h.size)
		}
		if len(out) > 0 {
			c.Write(out)
			out = out[:0]
		}
	}
}

// benchProxy starts an in-process proxy in front of a bench server.
func benchProxy(b *testing.B, mode string) string {
	addr := benchServer(b)
	yaml := fmt.Sprintf(`
auth: { type: trust }
databases:
  db:
    url: postgresql://u@%s/db?sslmode=disable&connection_limit=4
    pool_mode: %s
`, addr, mode)
	cfg, err := config.Parse("bench.yaml", []byte(yaml), nil)
	if err != nil {
		b.Fatal(err)
	}
	px, err := proxy.New(cfg, New(Config{}), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go px.Serve(ln)
	b.Cleanup(func() { px.Close() })
	return ln.Addr().String()
}

// benchClient logs in to addr with a raw connection.
func benchClient(b *testing.B, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	params := "user\x00u\x00database\x00db\x00\x00"
	msg := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	msg = binary.BigEndian.AppendUint32(msg, codeProtocol30)
	c.Write(append(msg, params...))
	readUntilReady(b, c)
	return c
}

func readUntilReady(b *testing.B, c net.Conn) {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			b.Fatal(err)
		}
		n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
		body := make([]byte, n)
		if _, err := io.ReadFull(c, body); err != nil {
			b.Fatal(err)
		}
		if hdr[0] == msgErrorResponse {
			b.Fatalf("error: %q", body)
		}
		if hdr[0] == msgReadyForQuery {
			return
		}
	}
}

// BenchmarkRelay measures one request/response round trip through the proxy, in
// transaction and session mode, with the simple and the extended protocol. The
// allocations reported are the whole process's (client, proxy and fake server) per
// round trip; the proxy's share in steady state should be zero.
func BenchmarkRelay(b *testing.B) {
	simple := appendQuery(nil, "SELECT 1")
	var ext []byte
	ext = appendMsg(ext, msgBind, []byte("\x00\x00\x00\x00\x00\x00\x00\x00"))
	ext = appendMsg(ext, msgExecute, []byte("\x00\x00\x00\x00\x00"))
	ext = append(ext, msgSync, 0, 0, 0, 4)
	// What pgbench -M extended sends for each statement: the unnamed statement parsed
	// again, its portal described, executed and synced.
	var pgbench []byte
	pgbench = appendMsg(pgbench, msgParse, []byte("\x00SELECT abalance FROM pgbench_accounts WHERE aid = $1;\x00\x00\x00"))
	pgbench = appendMsg(pgbench, msgBind, []byte("\x00\x00\x00\x00\x00\x01\x00\x00\x00\x0512345\x00\x00"))
	pgbench = appendMsg(pgbench, msgDescribe, []byte("P\x00"))
	pgbench = appendMsg(pgbench, msgExecute, []byte("\x00\x00\x00\x00\x00"))
	pgbench = append(pgbench, msgSync, 0, 0, 0, 4)
	for _, mode := range []string{"transaction", "session"} {
		for _, proto := range []struct {
			name string
			req  []byte
		}{{"simple", simple}, {"extended", ext}, {"pgbench-extended", pgbench}} {
			b.Run(mode+"/"+proto.name, func(b *testing.B) {
				addr := benchProxy(b, mode)
				c := benchClient(b, addr)
				defer c.Close()
				buf := make([]byte, 4096)
				ctx := context.Background()
				_ = ctx
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := c.Write(proto.req); err != nil {
						b.Fatal(err)
					}
					// Read until ReadyForQuery, which ends every reply here.
					got := 0
					for {
						n, err := c.Read(buf[got:])
						if err != nil {
							b.Fatal(err)
						}
						got += n
						if got >= 6 && buf[got-6] == msgReadyForQuery {
							break
						}
					}
				}
			})
		}
	}
}
