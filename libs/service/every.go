package service

import (
	"context"
	"io"
	"time"
)

// Every runs fn now and then at each interval, in its own goroutine, until
// ctx ends or the returned closer is closed (Close waits for a running fn).
func Every(ctx context.Context, interval time.Duration, fn func(context.Context)) io.Closer {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			fn(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return closerFunc(func() error { cancel(); <-done; return nil })
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// runUntilClosed runs run in its own goroutine; closing the result stops it,
// waits for it, then closes extra (e.g. a Kafka writer).
func runUntilClosed(ctx context.Context, run func(context.Context) error, extra io.Closer) io.Closer {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = run(ctx)
	}()
	return closerFunc(func() error {
		cancel()
		<-done
		return extra.Close()
	})
}
