package downstream

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/stream"
)

// TestPingWithFullOutbox: a PING due while more than outboxHigh bytes wait
// for the replica must not block the writer, the only one that empties the
// outbox (it hung the link for good, and with it the server's Close).
func TestPingWithFullOutbox(t *testing.T) {
	e := command.New(command.Config{})
	big := bytes.Repeat([]byte("x"), outboxHigh+1)
	set := []byte(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n", len(big), big))
	const n = 40
	lg := &memLog{}
	for i := 1; i <= n; i++ {
		lg.entries = append(lg.entries, stream.Entry{Offset: uint64(i), Data: set})
	}
	s, err := New(Config{Engine: e, Log: lg, Source: fixedSource{0}, PingPeriod: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	br, cc, _ := serve(t, s, command.SyncRequest{})
	cc.SetDeadline(time.Now().Add(20 * time.Second))
	skipRDB(t, br)
	// Read the stream slowly enough for PINGs to fall due while the outbox
	// is full, and check the entries.
	entry := make([]byte, len(set))
	for got := 0; got < n; got++ {
		for {
			p, err := br.Peek(len(ping))
			if err != nil {
				t.Fatalf("after %d of %d entries: %v", got, n, err)
			}
			if !bytes.Equal(p, ping) {
				break
			}
			br.Discard(len(ping))
		}
		for off := 0; off < len(entry); {
			time.Sleep(time.Millisecond)
			m, err := io.ReadFull(br, entry[off:min(off+256<<10, len(entry))])
			if err != nil {
				t.Fatalf("after %d of %d entries: %v", got, n, err)
			}
			off += m
		}
		if !bytes.Equal(entry, set) {
			t.Fatalf("entry %d differs", got+1)
		}
	}
}
