package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
)

// runLogCmd runs a log subcommand and returns what it printed.
func runLogCmd(args ...string) (string, error) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := logCmd(ctx, args, &out)
	return out.String(), err
}

// logFixture is a dataset whose log a master wrote, then a foreign
// message and entries appended after it.
type logFixture struct {
	url     string
	dataset string
	lg      *jetstream.Log
	big     string // the value of the entry kept in the object store
}

// smallPayload is the test server's max_payload: a value larger than it
// goes to the object store without megabytes of data.
const smallPayload = 32 << 10

func newLogFixture(t *testing.T) logFixture {
	t.Helper()
	const dataset = "viewed"
	srv, err := natsserver.Start(t.TempDir(), natsserver.WithMaxPayload(smallPayload))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	lg := openLog(t, srv.URL(), dataset)
	m, stopMaster := serveMaster(t, lg, dataset)
	c := redistest.Dial(t, m.Addr().String())
	big := strings.Repeat("0123456789abcdef", 3*smallPayload/16) // 96 KiB
	for _, step := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"SET", "plain", "hello world"}, "+OK\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SET", "a", "1"}, "+QUEUED\r\n"},
		{[]string{"INCR", "n"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*2\r\n+OK\r\n:1\r\n"},
		{[]string{"SET", "bin", "\x00\xff\r\n\"q\"\t"}, "+OK\r\n"},
		{[]string{"SELECT", "1"}, "+OK\r\n"},
		{[]string{"RPUSH", "l1", "x y", ""}, ":2\r\n"},
		{[]string{"SET", "big", big}, "+OK\r\n"},
	} {
		if got := c.Do(step.cmd...); got != step.want {
			t.Fatalf("%.40q: %q, want %q", step.cmd, got, step.want)
		}
	}
	stopMaster()
	f := logFixture{url: srv.URL(), dataset: dataset, lg: lg, big: big}

	// A message not of ferry's, straight into the stream's subject, then
	// two well-formed entries after it.
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bad := "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\nnot RESP at all\x01"
	if ack, err := nc.Request(jetstream.Subject(dataset), []byte(bad), 5*time.Second); err != nil || !strings.Contains(string(ack.Data), `"seq":`) {
		t.Fatalf("publishing the foreign message: %v", err)
	}
	ctx := context.Background()
	last, err := lg.Last(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmds := range [][][]string{{{"DEL", "x"}}, {{"SELECT", "2"}, {"SET", "after", "bad"}}} {
		if last, err = lg.Append(ctx, encodeCommands(cmds), last); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// times replaces the entry times of show's text output with T, checking
// each is a time of this test's run.
func times(t *testing.T, out string, since time.Time) string {
	t.Helper()
	re := regexp.MustCompile(` at (\S+Z):`)
	return re.ReplaceAllStringFunc(out, func(m string) string {
		ts, err := time.Parse(time.RFC3339Nano, re.FindStringSubmatch(m)[1])
		if err != nil || ts.Before(since.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("entry time %q (%v) is not of this test's run (from %v)", m, err, since)
		}
		return " at T:"
	})
}

// logEntries is show's text for each entry of the fixture's log, times
// replaced by T; the large value is cut at --arg-bytes 256.
func logEntries(big string) map[uint64]string {
	return map[uint64]string{
		1: "entry 1 at T: 1 command, 42 bytes\n" +
			"    \"SET\" \"plain\" \"hello world\"\n",
		2: "entry 2 at T: 4 commands, 77 bytes\n" +
			"    \"MULTI\"\n" +
			"    \"SET\" \"a\" \"1\"\n" +
			"    \"INCR\" \"n\"\n" +
			"    \"EXEC\"\n",
		3: "entry 3 at T: 1 command, 36 bytes\n" +
			`    "SET" "bin" "\x00\xff\r\n\"q\"\t"` + "\n",
		4: "entry 4 at T: 2 commands, 61 bytes\n" +
			"    \"SELECT\" \"1\"\n" +
			"    \"RPUSH\" \"l1\" \"x y\" \"\"\n",
		5: fmt.Sprintf("entry 5 at T: 2 commands, %d bytes\n", 55+len(big)) +
			"    \"SELECT\" \"1\"\n" +
			fmt.Sprintf("    \"SET\" \"big\" \"%s\"...(%d bytes)\n", big[:256], len(big)),
		6: "entry 6 at T: 1 command, 43 bytes\n" +
			"    \"SET\" \"x\" \"1\"\n" +
			"    error: malformed entry: ERR Protocol error: expected '*' at byte 27\n" +
			`    undecodable 16 bytes from byte 27: "not RESP at all\x01"` + "\n",
		7: "entry 7 at T: 1 command, 20 bytes\n" +
			"    \"DEL\" \"x\"\n",
		8: "entry 8 at T: 2 commands, 56 bytes\n" +
			"    \"SELECT\" \"2\"\n" +
			"    \"SET\" \"after\" \"bad\"\n",
	}
}

// entriesText joins logEntries' texts for offsets from to to.
func entriesText(big string, from, to uint64) string {
	all := logEntries(big)
	var b strings.Builder
	for off := from; off <= to; off++ {
		b.WriteString(all[off])
	}
	return b.String()
}

// TestLogShow: show prints a master's entries (a transaction, a binary
// value, SELECT, a value kept in the object store) with their commands as
// redis-cli quotes them, a foreign message as far as it parses with its
// error and bytes, and the entries after it; --from, --count, --json and
// --arg-bytes; offsets out of the log's range are errors naming it.
func TestLogShow(t *testing.T) {
	since := time.Now()
	f := newLogFixture(t)
	natsArgs := []string{"--nats", f.url, "--dataset", f.dataset}
	show := func(args ...string) (string, error) {
		t.Helper()
		return runLogCmd(append(append([]string{"show"}, args...), natsArgs...)...)
	}

	// The large value's entry is a reference to an object in the stream.
	ctx := context.Background()
	st := logStream(t, f.url, f.dataset)
	if raw, err := st.GetMsg(ctx, 5); err != nil || raw.Header.Get("Ferry-Object") == "" || len(raw.Data) != 0 {
		t.Fatalf("entry 5 in the stream: %v %v, %d bytes; want an object reference", err, raw.Header, len(raw.Data))
	}

	for _, tc := range []struct {
		args     []string
		from, to uint64
	}{
		{nil, 1, 8}, // the last 10: all of them
		{[]string{"--count", "3"}, 6, 8},
		{[]string{"--from", "2", "--count", "2"}, 2, 3},
		{[]string{"--from", "6"}, 6, 8},
		{[]string{"--from", "8", "--count", "5"}, 8, 8},
		{[]string{"--count", "0", "--from", "4"}, 4, 8},
		{[]string{"--count", "0"}, 1, 8},
	} {
		out, err := show(tc.args...)
		if err != nil {
			t.Fatalf("show %q: %v", tc.args, err)
		}
		if got, want := times(t, out, since), entriesText(f.big, tc.from, tc.to); got != want {
			t.Errorf("show %q printed\n%s\nwant\n%s", tc.args, got, want)
		}
	}

	// Whole arguments.
	out, err := show("--from", "5", "--count", "1", "--arg-bytes", "0")
	if err != nil {
		t.Fatal(err)
	}
	if want := "    \"SET\" \"big\" \"" + f.big + "\"\n"; !strings.HasSuffix(out, want) {
		t.Errorf("show --arg-bytes 0 of the large entry printed %.300q..., want its whole value", out)
	}

	// JSON: one object per entry, binary arguments in base64.
	out, err = show("--json", "--count", "0")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("show --json printed %d lines, want 8:\n%.2000s", len(lines), out)
	}
	wantCmds := map[uint64][][]string{
		1: {{"SET", "plain", "hello world"}},
		2: {{"MULTI"}, {"SET", "a", "1"}, {"INCR", "n"}, {"EXEC"}},
		3: {{"SET", "bin", base64.StdEncoding.EncodeToString([]byte("\x00\xff\r\n\"q\"\t"))}},
		4: {{"SELECT", "1"}, {"RPUSH", "l1", "x y", ""}},
		5: {{"SELECT", "1"}, {"SET", "big", f.big}},
		6: {{"SET", "x", "1"}},
		7: {{"DEL", "x"}},
		8: {{"SELECT", "2"}, {"SET", "after", "bad"}},
	}
	for i, line := range lines {
		var en entryJSON
		if err := json.Unmarshal([]byte(line), &en); err != nil {
			t.Fatalf("line %d: %v: %.300s", i, err, line)
		}
		off := uint64(i + 1)
		if en.Offset != off || en.Time == nil || en.Time.Before(since.Add(-time.Second)) || en.Time.After(time.Now()) {
			t.Errorf("line %d: offset %d, time %v; want offset %d and a time of this run", i, en.Offset, en.Time, off)
		}
		if got, want := fmt.Sprint(en.Commands), fmt.Sprint(wantCmds[off]); got != want {
			t.Errorf("entry %d: commands %.300s, want %.300s", off, got, want)
		}
		wantB64 := ""
		if off == 3 {
			wantB64 = "[[0 2]]"
		}
		if got := fmt.Sprint(en.Base64Args); (wantB64 == "" && en.Base64Args != nil) || (wantB64 != "" && got != wantB64) {
			t.Errorf("entry %d: base64_args %s, want %q", off, got, wantB64)
		}
		if off == 6 {
			bad, err := base64.StdEncoding.DecodeString(en.Undecodable)
			if en.Error != "malformed entry: ERR Protocol error: expected '*' at byte 27" || err != nil ||
				string(bad) != "not RESP at all\x01" || en.UndecodableBytes != 16 || en.Bytes != 43 {
				t.Errorf("entry 6: %s", line)
			}
		} else if en.Error != "" || en.Undecodable != "" {
			t.Errorf("entry %d: %s", off, line)
		}
	}
	if bin, err := base64.StdEncoding.DecodeString(wantCmds[3][0][2]); err != nil || string(bin) != "\x00\xff\r\n\"q\"\t" {
		t.Errorf("entry 3's base64 argument decodes to %q (%v)", bin, err)
	}

	// Out of range.
	for _, tc := range []struct {
		from string
		is   error
		msg  string
	}{
		{"9", stream.ErrAhead, "offset 9 is past the end of stream FERRY_VIEWED (it holds offsets 1 to 8)"},
		{"1000", stream.ErrAhead, "offset 1000 is past the end of stream FERRY_VIEWED (it holds offsets 1 to 8)"},
		{"0", nil, "--from 0: offsets start at 1 (stream FERRY_VIEWED: it holds offsets 1 to 8)"},
	} {
		out, err := show("--from", tc.from)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || (tc.is != nil && !errors.Is(err, tc.is)) || out != "" {
			t.Errorf("show --from %s: %v, printed %q; want an error with %q (%v)", tc.from, err, out, tc.msg, tc.is)
		}
	}
	purgeBelow(t, f.url, f.dataset, 4)
	out, err = show("--from", "3")
	if err == nil || !errors.Is(err, stream.ErrTruncated) || !strings.Contains(err.Error(), "offset 3 is no longer in stream FERRY_VIEWED (it holds offsets 4 to 8)") || out != "" {
		t.Errorf("show --from 3 after a purge below 4: %v, printed %q", err, out)
	}
	out, err = show()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := times(t, out, since), entriesText(f.big, 4, 8); got != want {
		t.Errorf("show after a purge below 4 printed\n%s\nwant\n%s", got, want)
	}

	// An entry deleted from the middle of the stream by hand is reported,
	// and the entries around it still print.
	if err := st.DeleteMsg(ctx, 7); err != nil {
		t.Fatal(err)
	}
	out, err = show("--from", "6")
	if err != nil {
		t.Fatal(err)
	}
	want := entriesText(f.big, 6, 6) + "entry 7: missing: get 7: removed from the middle of the log: stream: offset no longer in the log\n" +
		entriesText(f.big, 8, 8)
	if got := times(t, out, since); got != want {
		t.Errorf("show with entry 7 deleted printed\n%s\nwant\n%s", got, want)
	}
	out, err = show("--from", "7", "--count", "1", "--json")
	if want := `{"offset":7,"missing":true,"bytes":0,"commands":null,"error":"get 7: removed from the middle of the log: stream: offset no longer in the log"}` + "\n"; err != nil || out != want {
		t.Errorf("show --json of the deleted entry: %v, printed %q, want %q", err, out, want)
	}
	out, err = runLogCmd(append([]string{"info"}, natsArgs...)...)
	if err != nil || !strings.Contains(out, "\nentries       4 (1 deleted from the middle)\n") || !strings.Contains(out, "\nfirst         4\n") {
		t.Errorf("info with entry 7 deleted: %v, printed\n%s", err, out)
	}
}

// TestLogInfo: info names the stream, its identity, range, size and
// limits, as text and JSON.
func TestLogInfo(t *testing.T) {
	since := time.Now()
	f := newLogFixture(t)
	natsArgs := []string{"--nats", f.url, "--dataset", f.dataset}
	out, err := runLogCmd(append([]string{"info"}, natsArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	out = regexp.MustCompile(`(?m)^(bytes|first stored|last stored) +\S+`).ReplaceAllString(out, "$1 X")
	want := "dataset       viewed\n" +
		"stream        FERRY_VIEWED (subject ferry.viewed.log)\n" +
		"identity      " + f.lg.Identity() + " (the stream's creation time)\n" +
		"first         1\n" +
		"last          8\n" +
		"entries       8\n" +
		"bytes X (large entries' data is in object store bucket FERRY_VIEWED_ENTRIES)\n" +
		"first stored X\n" +
		"last stored X\n" +
		"max age       none\n" +
		"max bytes     none\n" +
		"replicas      1\n"
	if out != want {
		t.Errorf("info printed\n%s\nwant\n%s", out, want)
	}

	out, err = runLogCmd(append([]string{"info", "--json"}, natsArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	var rep logInfoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	en5, err := f.lg.Get(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stream != "FERRY_VIEWED" || rep.Identity != f.lg.Identity() || rep.First != 1 || rep.Last != 8 || rep.Entries != 8 ||
		rep.MaxAge != "0s" || rep.MaxBytes != -1 || rep.Replicas != 1 || rep.FirstTime == nil || rep.LastTime == nil ||
		rep.FirstTime.Before(since.Add(-time.Second)) || rep.LastTime.Before(*rep.FirstTime) || rep.LastTime.After(time.Now()) {
		t.Errorf("info --json: %s", out)
	}
	// The large value is not in the stream's bytes: its entry is a
	// reference to an object.
	if rep.Bytes == 0 || rep.Bytes >= uint64(len(en5.Data)) {
		t.Errorf("info --json: stream bytes %d with an entry of %d bytes in the object store", rep.Bytes, len(en5.Data))
	}

	// An empty log (every entry purged): first is last+1.
	purgeBelow(t, f.url, f.dataset, 9)
	out, err = runLogCmd(append([]string{"info", "--json"}, natsArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	rep = logInfoReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.First != 9 || rep.Last != 8 || rep.Entries != 0 || rep.FirstTime != nil {
		t.Errorf("info --json of an emptied log: %s", out)
	}
	out, err = runLogCmd(append([]string{"show"}, natsArgs...)...)
	if err != nil || out != "stream FERRY_VIEWED holds no entries (last offset 8)\n" {
		t.Errorf("show of an emptied log: %v, printed %q", err, out)
	}
	out, err = runLogCmd(append([]string{"show", "--from", "8"}, natsArgs...)...)
	if !errors.Is(err, stream.ErrTruncated) || !strings.Contains(err.Error(), "it holds no entries, last offset 8") || out != "" {
		t.Errorf("show --from 8 of an emptied log: %v, printed %q", err, out)
	}
}

// TestLogErrors: no log, no server, no --nats, and command line mistakes
// are errors, and nothing is created.
func TestLogErrors(t *testing.T) {
	srv := startNATS(t)
	for _, cmd := range []string{"info", "show"} {
		out, err := runLogCmd(cmd, "--nats", srv.URL(), "--dataset", "nosuch")
		if !errors.Is(err, stream.ErrNoLog) || !strings.Contains(err.Error(), `dataset "nosuch" has no log: the NATS server has no stream FERRY_NOSUCH`) || out != "" {
			t.Errorf("%s of a dataset without a log: %v, printed %q", cmd, err, out)
		}
	}
	// Still none: the tools are read-only.
	if _, err := runLogCmd("info", "--nats", srv.URL(), "--dataset", "nosuch"); !errors.Is(err, stream.ErrNoLog) {
		t.Errorf("a second info of a dataset without a log: %v", err)
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"show", "--nats", "nats://127.0.0.1:1", "--dataset", "x"}, "connect to NATS at nats://127.0.0.1:1"},
		{[]string{"info", "--dataset", "x"}, "--nats URL is required"},
		{[]string{"show", "--nats", srv.URL(), "extra"}, `unexpected argument "extra"`},
		{[]string{"show", "--nats", srv.URL(), "--dataset", "a.b"}, "--dataset"},
		{[]string{"tail"}, `log: unknown command "tail"`},
		{nil, "log: which command?"},
	} {
		out, err := runLogCmd(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || out != "" {
			t.Errorf("log %q: %v, printed %q; want an error with %q", tc.args, err, out, tc.msg)
		}
	}
}

// TestLogEntryText: an entry whose undecodable rest is longer than
// badBytesShown prints that many of its bytes; one cut inside a command
// prints no command.
func TestLogEntryText(t *testing.T) {
	data := "*1\r\n$4\r\nPING\r\n" + strings.Repeat("z", 300)
	v, _ := parseEntry(stream.Entry{Offset: 7, Data: []byte(data)}, nil)
	var b bytes.Buffer
	if err := printEntryText(&b, v, 0); err != nil {
		t.Fatal(err)
	}
	want := "entry 7: 1 command, 314 bytes\n" +
		"    \"PING\"\n" +
		"    error: malformed entry: ERR Protocol error: expected '*' at byte 14\n" +
		"    undecodable 300 bytes from byte 14: \"" + strings.Repeat("z", badBytesShown) + "\"...\n"
	if b.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := printEntryJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	var en entryJSON
	if err := json.Unmarshal(b.Bytes(), &en); err != nil {
		t.Fatal(err)
	}
	bad, _ := base64.StdEncoding.DecodeString(en.Undecodable)
	if en.UndecodableBytes != 300 || string(bad) != strings.Repeat("z", badBytesShown) || en.Time != nil || len(en.Commands) != 1 {
		t.Errorf("JSON: %s", b.String())
	}

	v, _ = parseEntry(stream.Entry{Offset: 1, Data: []byte("*2\r\n$3\r\nGET\r\n$10\r\nab")}, nil)
	b.Reset()
	if err := printEntryText(&b, v, 0); err != nil {
		t.Fatal(err)
	}
	want = "entry 1: 0 commands, 20 bytes\n" +
		"    error: malformed entry: ERR Protocol error: invalid bulk length at byte 13\n" +
		`    undecodable 20 bytes from byte 0: "*2\r\n$3\r\nGET\r\n$10\r\nab"` + "\n"
	if b.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", b.String(), want)
	}
}

// TestLogShowAll: show --count 0 of a log of 20,000 entries, one deleted
// from its middle, prints every offset once, in order, each entry with
// its time and command, the deleted one as missing.
func TestLogShowAll(t *testing.T) {
	since := time.Now()
	srv := startNATS(t)
	const dataset, n, deleted = "many", 20000, 12345
	lg := openLog(t, srv.URL(), dataset)
	for start := 0; start < n; start += 500 {
		var pend []stream.Pending
		for i := start; i < start+500; i++ {
			p, err := lg.AppendAsync(encodeCommands([][]string{{"SET", "k", strconv.Itoa(i + 1)}}), uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			pend = append(pend, p)
		}
		for _, p := range pend {
			if _, err := p.Offset(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := logStream(t, srv.URL(), dataset).DeleteMsg(context.Background(), deleted); err != nil {
		t.Fatal(err)
	}

	out, err := runLogCmd("show", "--count", "0", "--nats", srv.URL(), "--dataset", dataset)
	if err != nil {
		t.Fatal(err)
	}
	out = times(t, out, since)
	var want strings.Builder
	for off := 1; off <= n; off++ {
		if off == deleted {
			fmt.Fprintf(&want, "entry %d: missing: get %d: removed from the middle of the log: stream: offset no longer in the log\n", off, off)
			continue
		}
		v := strconv.Itoa(off)
		fmt.Fprintf(&want, "entry %d at T: 1 command, %d bytes\n    \"SET\" \"k\" \"%s\"\n", off, 25+len(strconv.Itoa(len(v)))+len(v), v)
	}
	if out != want.String() {
		g, w := strings.Split(out, "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("show --count 0 of %d entries printed %d lines; line %d is %q, want %q", n, len(g), i+1, g[i], w[i])
			}
		}
		t.Fatalf("show --count 0 of %d entries printed %d lines, want %d", n, len(g), len(w))
	}
}

// logStream returns the JetStream stream of dataset's log on the server at
// url, through a connection closed when the test ends.
func logStream(t *testing.T, url, dataset string) natsjs.Stream {
	t.Helper()
	s, err := jsClient(t, url).Stream(context.Background(), jetstream.StreamName(dataset))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jsClient returns a JetStream client of the server at url, through a
// connection closed when the test ends.
func jsClient(t *testing.T, url string) natsjs.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestLogOnMirror: with --log-mirror the log tools read a JetStream
// mirror of the dataset's stream, as a replica in another region would,
// and show the same entries; info names the mirror and its origin.
func TestLogOnMirror(t *testing.T) {
	f := newLogFixture(t)
	const mirror = "FERRY_VIEWED_EU"
	js := jsClient(t, f.url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: mirror, AllowDirect: true,
		Mirror: &natsjs.StreamSource{Name: jetstream.StreamName(f.dataset)}}); err != nil {
		t.Fatal(err)
	}
	ms, err := js.Stream(ctx, mirror)
	if err != nil {
		t.Fatal(err)
	}
	for ms.CachedInfo().State.LastSeq < 8 {
		if ctx.Err() != nil {
			t.Fatal("the mirror did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
		if _, err := ms.Info(ctx); err != nil {
			t.Fatal(err)
		}
	}
	natsArgs := []string{"--nats", f.url, "--dataset", f.dataset}
	fromStream, err := runLogCmd(append([]string{"show", "--count", "0", "--from", "1"}, natsArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	fromMirror, err := runLogCmd(append([]string{"show", "--count", "0", "--from", "1", "--log-mirror", mirror}, natsArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	if fromMirror != fromStream || !strings.Contains(fromMirror, "entry 8 at ") {
		t.Errorf("show on the mirror printed\n%s\nthe stream\n%s", fromMirror, fromStream)
	}
	out, err := runLogCmd(append([]string{"info", "--log-mirror", mirror}, natsArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"stream        FERRY_VIEWED_EU (a mirror of FERRY_VIEWED, subject ferry.viewed.log)\n",
		"identity      " + f.lg.Identity() + " (FERRY_VIEWED's creation time)\n",
		"last          8\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("info on the mirror printed\n%s\nwant a line %q", out, want)
		}
	}
	// A mirror that is not there is an error that names it.
	_, err = runLogCmd(append([]string{"info", "--log-mirror", "FERRY_NOWHERE"}, natsArgs...)...)
	if !errors.Is(err, stream.ErrNoLog) || !strings.Contains(err.Error(), "--log-mirror FERRY_NOWHERE") {
		t.Errorf("info on a missing mirror: %v", err)
	}
}
