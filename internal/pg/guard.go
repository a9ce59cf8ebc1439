package pg

import "sync"

// guard holds a mutex through a function with several ways out. Deferred, unlock
// releases the mutex when a panic (a bug) leaves it held, so that the panic ends one
// client and one server connection instead of wedging the connection for good;
// called on each ordinary way out, it releases the mutex there, once.
type guard struct {
	mu   *sync.Mutex
	held bool
}

// locked returns a guard of mu, which the caller has just locked.
func locked(mu *sync.Mutex) guard { return guard{mu: mu, held: true} }

func (g *guard) lock() {
	g.mu.Lock()
	g.held = true
}

func (g *guard) unlock() {
	if g.held {
		g.held = false
		g.mu.Unlock()
	}
}

// testHookClient and testHookServer, set by tests only, see each client message the
// relay handles and each server message the pump routes, with sc.mu held: tests make
// them panic to prove that a bug costs one client and one server connection only.
var testHookClient, testHookServer func(msg []byte)
