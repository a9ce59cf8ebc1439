package pg

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/motorpool/motorpool/internal/pg/pgtest"
)

// TestValidate: a server connection that answers the empty query passes and stays
// usable; one that does not answer before the deadline fails and is closed, as one
// whose server went away does.
func TestValidate(t *testing.T) {
	t.Parallel()
	t.Run("an answer", func(t *testing.T) {
		t.Parallel()
		sc, err := dialTo(t, func(c *pgtest.Conn) {
			pgtest.Script{pgtest.Login(nil), pgtest.ExpectQuery(";"), pgtest.Send(emptyQuery, readyI), pgtest.RespondAll()}.Run(c)
		}, false)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		defer cancel()
		assert.NoError(t, sc.Validate(ctx))
		assert.True(t, sc.Usable())
		assert.NoError(t, sc.Validate(ctx), "validated again")
	})
	t.Run("no answer", func(t *testing.T) {
		t.Parallel()
		silent := make(chan struct{})
		sc, err := dialTo(t, func(c *pgtest.Conn) {
			pgtest.Script{pgtest.Login(nil), pgtest.ExpectQuery(";")}.Run(c)
			<-silent // a server that hangs
		}, false)
		defer close(silent)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, sc.Validate(ctx), context.DeadlineExceeded)
		assert.False(t, sc.Usable())
	})
	t.Run("the server went away while the connection was idle", func(t *testing.T) {
		t.Parallel()
		sc, err := dialTo(t, func(c *pgtest.Conn) {
			pgtest.Script{pgtest.Login(nil), pgtest.Close()}.Run(c)
		}, false)
		require.NoError(t, err)
		<-sc.done // the pump saw the close
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		defer cancel()
		err = sc.Validate(ctx)
		assert.Error(t, err)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "waited for an answer from a closed connection")
	})
	t.Run("the server closes", func(t *testing.T) {
		t.Parallel()
		sc, err := dialTo(t, func(c *pgtest.Conn) {
			pgtest.Script{pgtest.Login(nil), pgtest.ExpectQuery(";"), pgtest.Close()}.Run(c)
		}, false)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		defer cancel()
		assert.Error(t, sc.Validate(ctx))
		assert.False(t, sc.Usable())
	})
}
