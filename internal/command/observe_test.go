package command

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLatencyHist checks the histogram against figures redis-server 7.0
// reported (INFO latencystats, LATENCY HISTOGRAM) for commands that took
// 0, 4, 8, 75, 983 and 1417 µs: the highest value equivalent to each, in
// ns, and the power-of-two buckets.
func TestLatencyHist(t *testing.T) {
	for us, want := range map[int64]int64{0: 1, 4: 4015, 8: 8031, 75: 75263, 983: 983039, 1417: 1417215} {
		var h latencyHist
		h.add(nanoTicks(us*1000 + 400)) // sub-microsecond parts are dropped
		if got := h.percentile(50); got != want {
			t.Errorf("%d µs: p50 = %d ns, want %d", us, got, want)
		}
	}
	var h latencyHist
	for _, us := range []int64{0, 1, 4, 4, 33, 1000} {
		h.add(nanoTicks(us * 1000))
	}
	// 0 µs and 1 µs count at 1024 ns; 33000 ns falls in the range that
	// starts at 32768 (reported as 33 µs); 1000 µs at 1 048 576 ns.
	want := [][2]int64{{1, 2}, {4, 4}, {33, 5}, {1056, 6}}
	if got := h.cdf(); !reflect.DeepEqual(got, want) {
		t.Errorf("cdf = %v, want %v", got, want)
	}
	if got := h.percentile(100); got != 999424+4095 {
		t.Errorf("p100 = %d", got)
	}
	if h.total != 6 {
		t.Errorf("total = %d", h.total)
	}
	h.add(nanoTicks(5_000_000_000)) // clamped to 1 s
	if got := h.percentile(100); got < 1e9 || got > 1e9+1<<23 {
		t.Errorf("p100 after 5 s = %d", got)
	}
}

// TestSlowRedacted checks which arguments the slow log hides.
func TestSlowRedacted(t *testing.T) {
	args := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, a := range s {
			out[i] = []byte(a)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		args [][]byte
		want []int // the indices hidden
	}{
		{"auth", args("AUTH", "u", "p"), []int{1, 2}},
		{"hello", args("HELLO", "3", "AUTH", "u", "p"), []int{3, 4}},
		{"config|set", args("CONFIG", "SET", "hz", "10", "REQUIREPASS", "x"), []int{5}},
		{"config|set", args("CONFIG", "SET", "masterauth", "a", "hz", "10", "masteruser", "u"), []int{3, 7}},
		{"config|set", args("CONFIG", "SET", "hz", "10"), nil},
		{"migrate", args("MIGRATE", "h", "1", "", "0", "5", "AUTH", "p", "COPY", "AUTH2", "u", "p", "KEYS", "AUTH", "x"), []int{7, 10, 11}},
		{"migrate", args("MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u"), nil},
		{"acl|setuser", args("ACL", "SETUSER", "u", "on", ">secret"), []int{2, 3, 4}},
		{"get", args("GET", "k"), nil},
	} {
		var got []int
		for i, h := range slowRedacted(tc.name, tc.args) {
			if h {
				got = append(got, i)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %q: %v, want %v", tc.name, tc.args, got, tc.want)
		}
	}
}

// TestLatencyGraphDoctor checks LATENCY GRAPH and DOCTOR's event lines
// against what redis-server 7.0.15 printed for the same samples: 5, 30 and
// 12 ms, two, one and zero seconds ago.
func TestLatencyGraphDoctor(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := New(Config{Clock: func() time.Time { return now }})
	cl := e.NewClient("127.0.0.1:1", "127.0.0.1:2")
	cl.Authed = true
	for i, ms := range []int64{5, 30, 12} {
		e.obs.addLatency("command", ms, now.Unix()-2+int64(i))
	}
	run := func(args ...string) string {
		b := make([][]byte, len(args))
		for i, a := range args {
			b[i] = []byte(a)
		}
		e.Lock()
		defer e.Unlock()
		cl.W.Reset()
		e.Exec(cl, b)
		return string(cl.W.Buf)
	}
	graph := "command - high 30 ms, low 5 ms (all time high 30 ms)\n" + strings.Repeat("-", 80) + "\n" +
		" # \n | \n |_\n_||\n   \n210\nsss\n"
	if got, want := run("LATENCY", "GRAPH", "command"), "$"+strconv.Itoa(len(graph))+"\r\n"+graph+"\r\n"; got != want {
		t.Errorf("LATENCY GRAPH = %q, want %q", got, want)
	}
	line := "1. command: 3 latency spikes (average 15ms, mean deviation 9ms, period 0.67 sec). Worst all time event 30ms.\n"
	if got := run("LATENCY", "DOCTOR"); !strings.Contains(got, "\n\n"+line) {
		t.Errorf("LATENCY DOCTOR = %q, want a line %q", got, line)
	}
	e.obs.events = nil
	e.obs.addLatency("command", 5, now.Unix())
	graph = "command - high 5 ms, low 5 ms (all time high 5 ms)\n" + strings.Repeat("-", 80) + "\n" +
		" \n \n \n_\n \n0\ns\n"
	if got, want := run("LATENCY", "GRAPH", "command"), "$"+strconv.Itoa(len(graph))+"\r\n"+graph+"\r\n"; got != want {
		t.Errorf("LATENCY GRAPH = %q, want %q", got, want)
	}
}
