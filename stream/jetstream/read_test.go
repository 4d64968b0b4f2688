package jetstream

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestReplyPosition(t *testing.T) {
	for _, tc := range []struct {
		reply string
		want  replyPos
		ok    bool
	}{
		{"$JS.ACK.FERRY_SHOP.c1.1.42.7.1700000000000000000.3", replyPos{42, 7, 1700000000000000000}, true},
		{"$JS.ACK.hub.ACCHASH.FERRY_SHOP.c1.1.42.7.1700000000000000000.3.token", replyPos{42, 7, 1700000000000000000}, true},
		{"$JS.ACK._.ACCHASH.FERRY_SHOP.c1.1.42.7.1700000000000000000.3.token.more", replyPos{42, 7, 1700000000000000000}, true},
		{"$JS.ACK.FERRY_SHOP.c1.1.42.7.1700000000000000000", replyPos{}, false},       // 8 tokens
		{"$JS.NAK.FERRY_SHOP.c1.1.42.7.1700000000000000000.3", replyPos{}, false},     // not an ack subject
		{"$JS.ACK.FERRY_SHOP.c1.1.x42.7.1700000000000000000.3", replyPos{}, false},    // bad sequence
		{"$JS.ACK.FERRY_SHOP.c1.1.42.-7.1700000000000000000.3", replyPos{}, false},    // bad delivery sequence
		{"$JS.ACK.FERRY_SHOP.c1.1.42.7.17000000000000000000000.3", replyPos{}, false}, // timestamp overflows
		{"", replyPos{}, false},
		{"_INBOX.abc", replyPos{}, false},
	} {
		got, ok := replyPosition(tc.reply)
		if got != tc.want || ok != tc.ok {
			t.Errorf("replyPosition(%q) = %+v, %v; want %+v, %v", tc.reply, got, ok, tc.want, tc.ok)
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
