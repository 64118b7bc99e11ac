package service

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEvery_RunsAtOnceThenPeriodicallyUntilClosed(t *testing.T) {
	var n atomic.Int32
	c := Every(context.Background(), time.Millisecond, func(context.Context) { n.Add(1) })
	require.Eventually(t, func() bool { return n.Load() >= 3 }, 5*time.Second, time.Millisecond)
	require.NoError(t, c.Close())
	after := n.Load()
	// Close waited for the goroutine: no further runs can happen.
	require.Equal(t, after, n.Load())
}
