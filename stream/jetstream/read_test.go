package jetstream

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestReplyPosition(t *testing.T) {
	for _, tc := range []struct {
		reply    string
		consumer string
		seq      uint64
		ts       int64
		ok       bool
	}{
		{"$JS.ACK.FERRY_SHOP.c1.1.42.7.1700000000000000000.3", "c1", 42, 1700000000000000000, true},
		{"$JS.ACK.hub.ACCHASH.FERRY_SHOP.c1.1.42.7.1700000000000000000.3.token", "c1", 42, 1700000000000000000, true},
		{"$JS.ACK._.ACCHASH.FERRY_SHOP.c1.1.42.7.1700000000000000000.3.token.more", "c1", 42, 1700000000000000000, true},
		{"$JS.ACK.FERRY_SHOP.c1.1.42.7.1700000000000000000", "", 0, 0, false},       // 8 tokens
		{"$JS.NAK.FERRY_SHOP.c1.1.42.7.1700000000000000000.3", "", 0, 0, false},     // not an ack subject
		{"$JS.ACK.FERRY_SHOP.c1.1.x42.7.1700000000000000000.3", "", 0, 0, false},    // bad sequence
		{"$JS.ACK.FERRY_SHOP.c1.1.42.7.17000000000000000000000.3", "", 0, 0, false}, // timestamp overflows
		{"", "", 0, 0, false},
		{"_INBOX.abc", "", 0, 0, false},
	} {
		consumer, seq, ts, ok := replyPosition(tc.reply)
		if consumer != tc.consumer || seq != tc.seq || ts != tc.ts || ok != tc.ok {
			t.Errorf("replyPosition(%q) = %q, %d, %d, %v; want %q, %d, %d, %v", tc.reply, consumer, seq, ts, ok, tc.consumer, tc.seq, tc.ts, tc.ok)
		}
	}
}

// TestNoteAsyncError: only a permissions violation on the log's own direct
// gets turns catch-up reads off.
func TestNoteAsyncError(t *testing.T) {
	l := &Log{name: "FERRY_SHOP", log: slog.New(slog.DiscardHandler)}
	for _, err := range []error{
		fmt.Errorf("%w: %s", nats.ErrPermissionViolation, `Permissions Violation for Publish to "$JS.API.STREAM.INFO.FERRY_SHOP"`),
		fmt.Errorf("%w: %s", nats.ErrPermissionViolation, `Permissions Violation for Publish to "$JS.API.DIRECT.GET.FERRY_OTHER"`),
		nats.ErrSlowConsumer,
	} {
		l.noteAsyncError(err)
		if l.noDirect.Load() {
			t.Fatalf("%v turned catch-up reads off", err)
		}
	}
	l.noteAsyncError(fmt.Errorf("%w: %s", nats.ErrPermissionViolation, `Permissions Violation for Publish to "$JS.API.DIRECT.GET.FERRY_SHOP"`))
	if !l.noDirect.Load() {
		t.Fatal("a refused direct get left catch-up reads on")
	}
}
