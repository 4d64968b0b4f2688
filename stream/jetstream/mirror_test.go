package jetstream_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
	ferryjs "github.com/ferrydb/ferry/stream/jetstream"
)

// TestReadFromMirror: a reader opened on a JetStream mirror of the
// dataset's stream reads the same entries at the same offsets as one on
// the stream itself, from the first one the stream kept, then the entries
// appended while it reads; its identity is the mirrored stream's, so that
// it takes the snapshots of that log; it cannot trim the mirror. Catch-up
// reads use direct gets where the mirror allows them, consumers alone
// where it does not.
func TestReadFromMirror(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "mir")
	data := appendN(t, w, 20)
	ctx := ctxTimeout(t, 20*time.Second)
	if err := w.Trim(ctx, 11); err != nil {
		t.Fatal(err)
	}
	data = data[10:] // offsets 11-20
	js := rawJS(t, s.URL())
	for _, direct := range []bool{true, false} {
		name := fmt.Sprintf("FERRY_MIR_EU_%t", direct)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: name, Mirror: &jetstream.StreamSource{Name: ferryjs.StreamName("mir")}, AllowDirect: direct,
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Offsets 11-1120: enough behind for catch-up reads (direct gets).
	data = append(data, appendN(t, w, 1100)...)

	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%t", direct), func(t *testing.T) {
			name := fmt.Sprintf("FERRY_MIR_EU_%t", direct)
			r := openLog(t, s.URL(), "mir", func(c *ferryjs.Config) { c.ReadOnly, c.Mirror = true, name })
			if !r.Mirror() || r.Stream() != name {
				t.Fatalf("Mirror() %t, Stream() %s; want a mirror, %s", r.Mirror(), r.Stream(), name)
			}
			if r.Identity() != w.Identity() {
				t.Fatalf("identity %s, want the mirrored stream's %s", r.Identity(), w.Identity())
			}
			checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
				first, last, err := r.Range(ctx)
				if err != nil || first != 11 || last != 1120 {
					return fmt.Errorf("range %d-%d (%v), want 11-1120", first, last, err)
				}
				return nil
			})
			got, err := readUntil(t, r, 11, len(data))
			if err != nil {
				t.Fatal(err)
			}
			checkContiguous(t, got, 11)
			for i, e := range got {
				if !bytes.Equal(e.Data, data[i]) {
					t.Fatalf("offset %d: %q, want %q", e.Offset, e.Data, data[i])
				}
			}
			if n := ferryjs.DirectEntries(r); direct != (n > 0) {
				t.Errorf("%d entries read by direct gets from a mirror that allows them: %t", n, direct)
			}
			// A read from a removed offset is a gap, as on the stream.
			if _, err := readUntil(t, r, 5, 1); !errors.Is(err, stream.ErrTruncated) {
				t.Fatalf("read from offset 5 of a mirror that starts at 11: %v, want ErrTruncated", err)
			}
			if err := r.Trim(ctx, 15); err == nil {
				t.Fatal("a reader trimmed the mirror")
			}
		})
	}

	// Live entries reach a reader that follows the mirror.
	r := openLog(t, s.URL(), "mir", func(c *ferryjs.Config) { c.ReadOnly, c.Mirror = true, "FERRY_MIR_EU_true" })
	done := make(chan error, 1)
	var got []stream.Entry
	go func() {
		var err error
		got, err = readUntil(t, r, 1121, 5)
		done <- err
	}()
	more := appendN(t, w, 5)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, got, 1121)
	for i, e := range got {
		if !bytes.Equal(e.Data, more[i]) {
			t.Fatalf("offset %d: %q, want %q", e.Offset, e.Data, more[i])
		}
	}
}

// TestMirrorRefused: a stream that mirrors nothing, or another stream, is
// not the dataset's log; a missing mirror is no log at all; only a reader
// reads a mirror.
func TestMirrorRefused(t *testing.T) {
	s := startServer(t)
	openLog(t, s.URL(), "one")
	openLog(t, s.URL(), "two")
	js := rawJS(t, s.URL())
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OF_TWO", Mirror: &jetstream.StreamSource{Name: ferryjs.StreamName("two")}}); err != nil {
		t.Fatal(err)
	}
	open := func(cfg ferryjs.Config) error {
		l, err := ferryjs.Open(ctx, cfg)
		if err == nil {
			l.Close()
		}
		return err
	}
	base := ferryjs.Config{URL: s.URL(), Dataset: "one", ReadOnly: true, Timeout: 2 * time.Second}
	for _, tc := range []struct {
		mirror, want string
	}{
		{ferryjs.StreamName("two"), "is not a mirror of FERRY_ONE"},
		{"OF_TWO", "is not a mirror of FERRY_ONE"},
		{"MISSING", "does not exist"},
	} {
		cfg := base
		cfg.Mirror = tc.mirror
		err := open(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("mirror %s: %v, want an error saying %q", tc.mirror, err, tc.want)
		}
		if tc.mirror == "MISSING" && !errors.Is(err, stream.ErrNoLog) {
			t.Errorf("missing mirror: %v, want ErrNoLog", err)
		}
	}
	cfg := base
	cfg.ReadOnly, cfg.Mirror = false, "OF_TWO"
	if err := open(cfg); err == nil || !strings.Contains(err.Error(), "only a reader") {
		t.Errorf("a writer on a mirror: %v", err)
	}
}

// TestMirrorOfReplacedStream: the dataset's stream deleted and created
// again under a mirror (which then goes on with the new log's entries at
// the next offsets) ends a reader that follows the mirror with
// ErrReplaced; a reader opened afterwards refuses the mirror, older than
// the stream it mirrors.
func TestMirrorOfReplacedStream(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "rep")
	appendN(t, w, 5)
	js := rawJS(t, s.URL())
	ctx := ctxTimeout(t, 20*time.Second)
	const name = "FERRY_REP_EU"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Mirror: &jetstream.StreamSource{Name: ferryjs.StreamName("rep")}}); err != nil {
		t.Fatal(err)
	}
	r := openLog(t, s.URL(), "rep", func(c *ferryjs.Config) { c.ReadOnly, c.Mirror = true, name })
	read := make(chan error, 1)
	go func() {
		_, err := readUntil(t, r, 1, 1000)
		read <- err
	}()
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if _, last, err := r.Range(ctx); err != nil || last != 5 {
			return fmt.Errorf("mirror at %d (%v), want 5", last, err)
		}
		return nil
	})

	if err := js.DeleteStream(ctx, ferryjs.StreamName("rep")); err != nil {
		t.Fatal(err)
	}
	w2 := openLog(t, s.URL(), "rep")
	appendN(t, w2, 8)
	select {
	case err := <-read:
		if !errors.Is(err, stream.ErrReplaced) {
			t.Fatalf("reader of the mirror ended with %v, want ErrReplaced", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader of the mirror still reading 10 s after the stream it mirrors was replaced")
	}
	cfg := ferryjs.Config{URL: s.URL(), Dataset: "rep", ReadOnly: true, Mirror: name, Timeout: 2 * time.Second}
	if l, err := ferryjs.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "may hold entries of an earlier log") {
		if l != nil {
			l.Close()
		}
		t.Fatalf("opening a mirror older than its stream: %v", err)
	}
}
