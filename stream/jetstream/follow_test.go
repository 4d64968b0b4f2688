package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
	ferryjs "github.com/ferrydb/ferry/stream/jetstream"
)

// liveReader follows a log in the background and keeps what it read.
type liveReader struct {
	mu     sync.Mutex
	got    []stream.Entry
	at     []time.Time // when each entry was read
	cancel context.CancelFunc
	err    chan error
}

func followLog(tb testing.TB, l *ferryjs.Log, from uint64) *liveReader {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	lr := &liveReader{cancel: cancel, err: make(chan error, 1)}
	go func() {
		lr.err <- l.Read(ctx, from, func(e stream.Entry) error {
			lr.mu.Lock()
			defer lr.mu.Unlock()
			lr.got = append(lr.got, e)
			lr.at = append(lr.at, time.Now())
			return nil
		})
	}()
	tb.Cleanup(func() {
		cancel()
		<-lr.err
	})
	return lr
}

// waitFor waits until the reader has n entries.
func (lr *liveReader) waitFor(tb testing.TB, n int, total time.Duration) {
	tb.Helper()
	checkFor(tb, total, 5*time.Millisecond, func() error {
		lr.mu.Lock()
		defer lr.mu.Unlock()
		select {
		case err := <-lr.err:
			lr.err <- err
			return fmt.Errorf("Read ended: %v", err)
		default:
		}
		if len(lr.got) < n {
			return fmt.Errorf("read %d of %d entries", len(lr.got), n)
		}
		return nil
	})
}

// check stops the reader and checks that it read exactly want, from
// offset 1, each once and in order.
func (lr *liveReader) check(tb testing.TB, want [][]byte) {
	tb.Helper()
	lr.cancel()
	if err := <-lr.err; !errors.Is(err, context.Canceled) {
		tb.Fatalf("Read = %v, want context.Canceled", err)
	}
	lr.err <- context.Canceled // for the cleanup
	lr.mu.Lock()
	defer lr.mu.Unlock()
	checkContiguous(tb, lr.got, 1)
	if len(lr.got) != len(want) {
		tb.Fatalf("read %d entries, want %d", len(lr.got), len(want))
	}
	for i, e := range lr.got {
		if !bytes.Equal(e.Data, want[i]) {
			tb.Fatalf("offset %d: %q, want %q", e.Offset, e.Data, want[i])
		}
	}
}

// appendRetrying appends n entries, each tried again until it is stored
// (the server may be restarting), and returns their data.
func appendRetrying(tb testing.TB, l *ferryjs.Log, n int) [][]byte {
	tb.Helper()
	ctx := ctxTimeout(tb, 30*time.Second)
	var out [][]byte
	for range n {
		var err error
		for {
			var last uint64
			if last, err = l.Last(ctx); err == nil {
				d := payload(int(last) + 1)
				if _, err = l.Append(ctx, d, last); err == nil {
					out = append(out, d)
					break
				}
			}
			if ctx.Err() != nil {
				tb.Fatalf("append: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}

// TestFollowAcrossServerRestart: a reader following the log live goes on
// after its NATS server restarts at once, or after 2 or 5 s down, with the
// entries appended after the restart, none lost or read twice. It logs how
// long reading again took (0-72 ms here; nats.go's ordered consumer, used
// before, did as well in these cases, its 1-10 s pauses coming only after
// a failed attempt to make its next consumer).
func TestFollowAcrossServerRestart(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "restartlive")
	r := openLog(t, s.URL(), "restartlive", func(c *ferryjs.Config) { c.ReadOnly = true })
	want := appendN(t, w, 10)
	lr := followLog(t, r, 1)
	lr.waitFor(t, 10, 10*time.Second)
	for round, down := range []time.Duration{0, 2 * time.Second, 5 * time.Second} {
		s.Shutdown()
		time.Sleep(down)
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
		restarted := time.Now()
		want = append(want, appendRetrying(t, w, 5)...)
		appended := time.Now()
		lr.waitFor(t, len(want), 30*time.Second)
		lr.mu.Lock()
		first := lr.at[len(want)-5]
		lr.mu.Unlock()
		t.Logf("restart %d, %s down: the writer stored an entry again after %s, the reader read it %s later",
			round+1, down, appended.Sub(restarted).Round(time.Millisecond), first.Sub(appended).Round(time.Millisecond))
	}
	lr.check(t, want)
}

// TestFollowConsumerDeleted: a reader whose server-side consumer is
// deleted under it makes a new one and misses nothing.
func TestFollowConsumerDeleted(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "consdel")
	r := openLog(t, s.URL(), "consdel", func(c *ferryjs.Config) { c.ReadOnly = true })
	want := appendN(t, w, 5)
	lr := followLog(t, r, 1)
	lr.waitFor(t, 5, 10*time.Second)
	js := rawJS(t, s.URL())
	ctx := ctxTimeout(t, 30*time.Second)
	for round := range 3 {
		st, err := js.Stream(ctx, ferryjs.StreamName("consdel"))
		if err != nil {
			t.Fatal(err)
		}
		// The reader's consumer; under load a replaced one may not be
		// deleted yet: all of them go.
		var names []string
		for name := range st.ConsumerNames(ctx).Name() {
			names = append(names, name)
		}
		if len(names) == 0 {
			t.Fatalf("round %d: the reader has no consumer", round)
		}
		for _, name := range names {
			if err := st.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				t.Fatal(err)
			}
		}
		want = append(want, appendN(t, w, 5)...)
		lr.waitFor(t, len(want), 20*time.Second)
	}
	lr.check(t, want)
}
