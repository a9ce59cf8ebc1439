package pg

import (
	"encoding/binary"
	"io"
	"net"
	"time"
)

// cancelTimeout bounds the forwarding of one cancel request.
const cancelTimeout = 10 * time.Second

// handleCancel serves a CancelRequest: it finds the client by the key motorpool gave it
// and cancels the query its server connection runs for it, if any, or its wait for a
// server connection. A key nobody holds, a client that left, or a client with nothing
// running is ignored, as PostgreSQL does.
func (a *Adapter) handleCancel(body []byte) {
	if len(body) != 8 {
		return // motorpool issues 4-byte keys only
	}
	key := cancelKey{pid: binary.BigEndian.Uint32(body), secret: binary.BigEndian.Uint32(body[4:])}
	a.cancelMu.Lock()
	r := a.cancels[key]
	a.cancelMu.Unlock()
	if r == nil {
		return
	}
	if sc := r.server.Load(); sc != nil {
		a.cancelServer(sc, r)
	} else if w := r.wait.Load(); w != nil {
		w.cancel(errUserCancel) // waiting for a server connection, or idle
	}
}

// cancelServer sends the server a CancelRequest for the work sc does for client r, if
// sc still works for r. Until the request is delivered, sc is not released to another
// client, so a late cancel cannot hit someone else's query.
func (a *Adapter) cancelServer(sc *ServerConn, r *relay) {
	sc.mu.Lock()
	if sc.client != r || sc.q.len() == 0 {
		sc.mu.Unlock()
		return
	}
	sc.cancels++
	sc.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		sendCancel(sc.addr, sc.pid, sc.key)
		sc.mu.Lock()
		sc.cancels--
		release := sc.cancels == 0 && sc.releaseAfterCancel
		sess, lease := sc.pendingSess, sc.pendingLease
		if release {
			sc.releaseAfterCancel, sc.pendingSess = false, nil
		}
		sc.mu.Unlock()
		if release {
			sess.Release(lease)
		}
	}()
}

// sendCancel delivers a CancelRequest and waits until the server has acted on it (it
// closes the connection when done).
func sendCancel(addr string, pid uint32, key []byte) {
	conn, err := net.DialTimeout(network(addr), addr, cancelTimeout)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(cancelTimeout))
	msg := binary.BigEndian.AppendUint32(nil, uint32(12+len(key)))
	msg = binary.BigEndian.AppendUint32(msg, codeCancel)
	msg = binary.BigEndian.AppendUint32(msg, pid)
	msg = append(msg, key...)
	if _, err := conn.Write(msg); err != nil {
		return
	}
	io.Copy(io.Discard, conn)
}
