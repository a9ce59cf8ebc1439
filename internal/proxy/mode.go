package proxy

import "fmt"

// Mode is a pool mode: when a client's server connection goes back to its pool.
type Mode uint8

const (
	// ModeTransaction releases the server connection at the end of each transaction.
	ModeTransaction Mode = iota
	// ModeSession keeps it for the client's whole connection.
	ModeSession
	// ModeStatement releases it after each statement and refuses transaction blocks.
	ModeStatement
)

// ParseMode parses "transaction", "session" or "statement".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "transaction", "":
		return ModeTransaction, nil
	case "session":
		return ModeSession, nil
	case "statement":
		return ModeStatement, nil
	}
	return 0, fmt.Errorf("unknown pool mode %q (want session, transaction or statement)", s)
}

func (m Mode) String() string {
	switch m {
	case ModeSession:
		return "session"
	case ModeStatement:
		return "statement"
	}
	return "transaction"
}

// TxState is where a server connection stands when it has answered everything it was
// sent.
type TxState uint8

const (
	// TxIdle: outside any transaction.
	TxIdle TxState = iota
	// TxActive: inside a transaction block.
	TxActive
	// TxFailed: inside a failed transaction block, waiting for ROLLBACK.
	TxFailed
)

// Decision is what to do with a bound server connection that went idle.
type Decision uint8

const (
	// Keep it bound to the client.
	Keep Decision = iota
	// Release it to its pool.
	Release
	// Violation: the client broke the pool mode's rules (a transaction block in
	// statement mode); the adapter reports an error and ends the client.
	Violation
)

// Decide says what mode m does with a server connection that has answered all it was
// sent and stands in state s.
func (m Mode) Decide(s TxState) Decision {
	switch m {
	case ModeSession:
		return Keep
	case ModeStatement:
		if s != TxIdle {
			return Violation
		}
		return Release
	}
	if s == TxIdle {
		return Release
	}
	return Keep
}
