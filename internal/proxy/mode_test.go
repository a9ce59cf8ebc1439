package proxy

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModeDecide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode  Mode
		state TxState
		want  Decision
	}{
		{ModeTransaction, TxIdle, Release},
		{ModeTransaction, TxActive, Keep},
		{ModeTransaction, TxFailed, Keep},
		{ModeSession, TxIdle, Keep},
		{ModeSession, TxActive, Keep},
		{ModeSession, TxFailed, Keep},
		{ModeStatement, TxIdle, Release},
		{ModeStatement, TxActive, Violation},
		{ModeStatement, TxFailed, Violation},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s mode in state %d", tt.mode, tt.state), func(t *testing.T) {
			assert.Equal(t, tt.want, tt.mode.Decide(tt.state))
		})
	}
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Mode
		err  bool
	}{
		{"transaction", ModeTransaction, false},
		{"", ModeTransaction, false},
		{"session", ModeSession, false},
		{"statement", ModeStatement, false},
		{"Session", 0, true},
		{"pool", 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			m, err := ParseMode(tt.in)
			if tt.err {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "want session, transaction or statement")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, m)
			if tt.in != "" {
				assert.Equal(t, tt.in, m.String(), "String names the mode as the configuration does")
			}
		})
	}
}
