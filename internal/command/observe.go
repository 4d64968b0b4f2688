package command

import (
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	"github.com/ferrydb/ferry/internal/num"
)

// Observability (slowlog.c, latency.c, server.c's commandstats and
// errorstats): SLOWLOG, LATENCY, INFO commandstats and errorstats.
//
// Timing costs one clock read per command (clock.go): a pipelined batch's
// commands share readings, the end of one command being the start of the
// next, so a command's duration also holds the parsing of its request (and
// of any request rejected or queued by MULTI just before it in the batch).
// Commands run inside EXEC or a script are timed on their own (two reads).

func init() {
	registrations = append(registrations, registerObserve)
	for name, args := range map[string]string{
		"slowlog": "", "slowlog|get": "[count:i]", "slowlog|len": "", "slowlog|reset": "", "slowlog|help": "",
		"latency": "", "latency|latest": "", "latency|history": "event", "latency|reset": "[event...]",
		"latency|doctor": "", "latency|graph": "event", "latency|help": "", "latency|histogram": "[command...]",
	} {
		argSyntax[name] = args
	}
	special := "nondeterministic_output,request_policy:all_nodes,response_policy:special"
	for name, tips := range map[string]string{
		"slowlog|get":    "request_policy:all_nodes,nondeterministic_output",
		"slowlog|len":    "request_policy:all_nodes,response_policy:agg_sum,nondeterministic_output",
		"slowlog|reset":  "request_policy:all_nodes,response_policy:all_succeeded",
		"latency|reset":  "request_policy:all_nodes,response_policy:all_succeeded",
		"latency|doctor": special, "latency|graph": special, "latency|histogram": special,
		"latency|history": special, "latency|latest": special,
	} {
		tipTable[name] = tips
	}
	i64 := func(f func(o *observer) *int64) func(e *Engine) string {
		return func(e *Engine) string { return strconv.FormatInt(*f(&e.obs), 10) }
	}
	configParams = append(configParams,
		&configParam{name: "slowlog-log-slower-than", get: i64(func(o *observer) *int64 { return &o.slowerThan }),
			parse: parseInt(-1, 1<<63-1), set: func(e *Engine, v any) { e.obs.slowerThan = v.(int64); e.obs.setThresholds() }},
		&configParam{name: "slowlog-max-len", get: func(e *Engine) string { return strconv.Itoa(e.obs.slowMax) },
			parse: parseInt(0, 1<<63-1), set: func(e *Engine, v any) { e.obs.slowMax = int(min(v.(int64), math.MaxInt)) }},
		&configParam{name: "latency-monitor-threshold", get: i64(func(o *observer) *int64 { return &o.latThreshold }),
			parse: parseInt(0, 1<<63-1), set: func(e *Engine, v any) { e.obs.latThreshold = v.(int64); e.obs.setThresholds() }},
		&configParam{name: "latency-tracking", get: func(e *Engine) string { return yesNo(e.obs.tracking) },
			parse: parseBool, set: func(e *Engine, v any) { e.obs.tracking = v.(bool) }},
		&configParam{name: "latency-tracking-info-percentiles", get: func(e *Engine) string { return formatPercentiles(e.obs.percentiles) },
			parse: parsePercentiles, set: func(e *Engine, v any) { e.obs.percentiles = v.([]float64) }},
	)
	for _, p := range configParams[len(configParams)-5:] {
		configByName[p.name] = p
	}
}

func registerObserve(t *Table) {
	adm := Admin | Loading | Stale
	acl := []string{"admin", "slow", "dangerous"}
	lat := Admin | NoScript | Loading | Stale
	t.Add(
		&Command{Name: "slowlog", Arity: -2, Group: "server", Since: "2.2.12", Summary: "Container of the commands that read and clear the slow log.", ACL: []string{"slow"}},
		&Command{Name: "slowlog|get", Arity: -2, Flags: adm, Group: "server", Since: "2.2.12", Summary: "Replies with the slow log's newest entries (10, the count given, or all with -1).", ACL: acl, Handler: slowlogGetCmd},
		&Command{Name: "slowlog|len", Arity: 2, Flags: adm, Group: "server", Since: "2.2.12", Summary: "Replies with the number of entries in the slow log.", ACL: acl, Handler: func(c *Ctx) { c.W.Int(int64(len(c.e.obs.slow))) }},
		&Command{Name: "slowlog|reset", Arity: 2, Flags: adm, Group: "server", Since: "2.2.12", Summary: "Empties the slow log.", ACL: acl, Handler: func(c *Ctx) { c.e.obs.slow = nil; c.W.OK() }},
		&Command{Name: "slowlog|help", Arity: 2, Flags: Loading | Stale, Group: "server", Since: "6.2.0", Summary: "Lists the SLOWLOG subcommands.", ACL: []string{"slow"}, Handler: slowlogHelpCmd},
		&Command{Name: "latency", Arity: -2, Group: "server", Since: "2.8.13", Summary: "Container of the commands of the latency monitor.", ACL: []string{"slow"}},
		&Command{Name: "latency|latest", Arity: 2, Flags: lat, Group: "server", Since: "2.8.13", Summary: "Replies with the latest latency sample of every event.", ACL: acl, Handler: latencyLatestCmd},
		&Command{Name: "latency|history", Arity: 3, Flags: lat, Group: "server", Since: "2.8.13", Summary: "Replies with an event's latency samples, oldest first.", ACL: acl, Handler: latencyHistoryCmd},
		&Command{Name: "latency|reset", Arity: -2, Flags: lat, Group: "server", Since: "2.8.13", Summary: "Forgets the samples of the events given (all without any); replies with how many events were reset.", ACL: acl, Handler: latencyResetCmd},
		&Command{Name: "latency|doctor", Arity: 2, Flags: lat, Group: "server", Since: "2.8.13", Summary: "Replies with a report on the latency events observed.", ACL: acl, Handler: latencyDoctorCmd},
		&Command{Name: "latency|graph", Arity: 3, Flags: lat, Group: "server", Since: "2.8.13", Summary: "Replies with a text summary of an event's samples.", ACL: acl, Handler: latencyGraphCmd},
		&Command{Name: "latency|histogram", Arity: -2, Flags: lat, Group: "server", Since: "7.0.0", Summary: "Replies with the latency distribution of the commands given (all without any).", ACL: acl, Handler: latencyHistogramCmd},
		&Command{Name: "latency|help", Arity: 2, Flags: Loading | Stale, Group: "server", Since: "2.8.13", Summary: "Lists the LATENCY subcommands.", ACL: []string{"slow"}, Handler: latencyHelpCmd},
	)
}

// observer holds the slow log, the latency monitor and the error counts.
// Fields are guarded by the engine lock.
type observer struct {
	// mark is the clock's reading (ticks, clock.go) at which the next top-level command
	// of the batch starts: when the batch began, then when the previous
	// command ended.
	mark int64
	// rejCmd is the command dispatch is checking, whose rejected_calls a
	// rejection counts (nil: none, as for an unknown command).
	rejCmd *Command

	minTicks   int64 // setThresholds
	slowerThan int64 // slowlog-log-slower-than, µs; < 0: off
	slowMax    int   // slowlog-max-len
	slow       []slowEntry
	slowID     int64

	latThreshold int64 // latency-monitor-threshold, ms; 0: off
	events       map[string]*latencySeries

	errors map[string]int64 // error replies by code (INFO errorstats)

	tracking    bool      // latency-tracking: record commands' histograms
	percentiles []float64 // latency-tracking-info-percentiles

	// blockedDur is the time a blocked command's first run took, counted
	// when it is served.
	blockedDur map[*Client]int64
}

func (o *observer) init() {
	initClock()
	o.slowerThan = 10000
	o.slowMax = 128
	o.tracking = true
	o.percentiles = []float64{50, 99, 99.9}
	o.setThresholds()
}

// cmdStats are a command's INFO commandstats counters.
type cmdStats struct {
	calls, ticks, rejected, failed int64 // ticks: clock.go
}

// maxErrorCodes bounds the distinct error codes INFO errorstats counts:
// scripts can make up codes, and each would otherwise stay forever.
const maxErrorCodes = 128

// errorCode is an error reply's code (msg without its '-'): the first
// word when a space ends it within 32 bytes, else ERR.
func errorCode(msg []byte) string {
	lim := min(len(msg), 32)
	for i := 0; i < lim; i++ {
		if msg[i] == ' ' {
			return string(msg[:i])
		}
		if msg[i] == '\r' {
			break
		}
	}
	return "ERR"
}

// uncountError takes back countError(msg), for a reply replaced by
// another (a rejected EXEC's, by EXECABORT).
func (o *observer) uncountError(msg []byte) {
	code := errorCode(msg)
	if n, ok := o.errors[code]; ok {
		if n <= 1 {
			delete(o.errors, code)
		} else {
			o.errors[code] = n - 1
		}
	}
}

// countError counts an error reply (msg without its '-') under its code.
func (o *observer) countError(msg []byte) {
	code := errorCode(msg)
	if o.errors == nil {
		o.errors = make(map[string]int64)
	}
	if _, ok := o.errors[code]; !ok && len(o.errors) >= maxErrorCodes {
		return
	}
	o.errors[code]++
}

// record accounts for a command that ran (not blocked) and took t ticks.
func (e *Engine) record(cl *Client, cmd *Command, args [][]byte, t int64, failed bool) {
	st := &cmd.stats
	st.calls++
	st.ticks += t
	if failed {
		st.failed++
	}
	if e.obs.tracking {
		cmd.trackLatency(t)
	}
	if t >= e.obs.minTicks || len(e.obs.slow) > e.obs.slowMax {
		e.recordSlow(cl, cmd, args, t)
	}
}

// trackLatency adds t ticks to the command's latency histogram.
func (cmd *Command) trackLatency(t int64) {
	if cmd.hist == nil {
		cmd.hist = new(latencyHist)
	}
	cmd.hist.add(t)
}

// setThresholds converts the slow log's and the latency monitor's
// thresholds to ticks: minTicks is a lower bound of the durations either
// may record (recordSlow checks them exactly).
func (o *observer) setThresholds() {
	o.minTicks = 1<<63 - 1
	if o.slowerThan >= 0 {
		o.minTicks = nanoTicks(o.slowerThan * 1000)
	}
	if o.latThreshold > 0 {
		o.minTicks = min(o.minTicks, nanoTicks(o.latThreshold*1_000_000))
	}
}

// recordSlow feeds the latency monitor and the slow log.
func (e *Engine) recordSlow(cl *Client, cmd *Command, args [][]byte, t int64) {
	o := &e.obs
	dur := tickNanos(t)
	if o.latThreshold > 0 && dur/1e6 >= o.latThreshold {
		ev := "command"
		if cmd.Flags&Fast != 0 {
			ev = "fast-command"
		}
		o.addLatency(ev, dur/1e6, e.now().Unix())
	}
	if o.slowerThan >= 0 && cmd.Flags&SkipSlowlog == 0 {
		if dur/1000 >= o.slowerThan {
			o.pushSlow(e, cl, cmd, args, dur/1000)
		}
		if len(o.slow) > o.slowMax {
			o.slow = append(o.slow[:0], o.slow[len(o.slow)-o.slowMax:]...)
		}
	}
}

// blockedRan notes the duration (ticks) of a command that blocked its client,
// and counts the call and that duration at once, as Redis 7.0's call()
// does: INFO commandstats shows them while the client waits, and after the
// client is killed waiting.
func (e *Engine) blockedRan(cl *Client, dur int64) {
	if e.obs.blockedDur == nil {
		e.obs.blockedDur = make(map[*Client]int64)
	}
	e.obs.blockedDur[cl] = dur
	if cl.block != nil && cl.block.cmd != nil {
		cl.block.cmd.stats.calls++
		cl.block.cmd.stats.ticks += dur
	}
}

// unblocked accounts for a blocked command once it is served or timed out,
// with the duration of its first run (before is where its reply starts).
// As in Redis 7.0, one that timed out is counted but not logged.
// ProtocolError answers a request that does not parse with msg (unless
// the client turned replies off) and counts the error as Redis does:
// total_error_replies and errorstat_ERR. The caller holds the lock, or the
// busy gate (BusyError).
func (e *Engine) ProtocolError(cl *Client, msg string) {
	mark := cl.W.Len()
	cl.W.Error(msg)
	e.stats.ErrorReplies++
	e.obs.countError(cl.W.Buf[mark+1:])
	cl.MutedReply(mark) // CLIENT REPLY OFF
}

func (e *Engine) unblocked(cl *Client, cmd *Command, args [][]byte, before int, timedOut bool) {
	dur := e.obs.blockedDur[cl]
	delete(e.obs.blockedDur, cl)
	if cmd == nil {
		return
	}
	failed := len(cl.W.Buf) > before && cl.W.Buf[before] == '-'
	if failed {
		e.stats.ErrorReplies++
		e.obs.countError(cl.W.Buf[before+1:])
	}
	if timedOut {
		if e.obs.tracking {
			cmd.trackLatency(dur)
		}
		return
	}
	// counted when it blocked (blockedRan); record counts it again
	cmd.stats.calls--
	cmd.stats.ticks -= dur
	e.record(cl, cmd, args, dur, failed)
}

// Slow log entries keep at most 32 arguments of at most 128 bytes.
const (
	slowMaxArgs  = 32
	slowMaxBytes = 128
)

type slowEntry struct {
	id, time, usec int64
	args           [][]byte
	peer, name     string
}

func (o *observer) pushSlow(e *Engine, cl *Client, cmd *Command, args [][]byte, usec int64) {
	n := min(len(args), slowMaxArgs)
	ent := slowEntry{id: o.slowID, time: e.now().Unix(), usec: usec, args: make([][]byte, n), peer: cl.Addr, name: cl.Name}
	o.slowID++
	if cl.lua {
		// Redis's script client has no connection.
		ent.peer = "?:0"
	}
	hide := slowRedacted(cmd.Name, args)
	for j := 0; j < n; j++ {
		a := args[j]
		switch {
		case n != len(args) && j == n-1:
			a = []byte("... (" + strconv.Itoa(len(args)-n+1) + " more arguments)")
		case hide != nil && hide[j]:
			a = []byte("(redacted)")
		case len(a) > slowMaxBytes:
			a = append(append([]byte(nil), a[:slowMaxBytes]...), "... ("+strconv.Itoa(len(a)-slowMaxBytes)+" more bytes)"...)
		default:
			a = append([]byte(nil), a...)
		}
		ent.args[j] = a
	}
	o.slow = append(o.slow, ent)
}

// slowRedacted marks the arguments the slow log hides (nil: none):
// MONITOR's (AUTH's, HELLO's and MIGRATE's credentials) and the values
// CONFIG SET gives Redis's sensitive settings (requirepass, masterauth,
// masteruser), every one of them as in Redis.
func slowRedacted(name string, args [][]byte) []bool {
	if name == "config|set" {
		var hide []bool
		for i := 2; i+1 < len(args); i += 2 {
			switch n := view(args[i]); {
			case strings.EqualFold(n, "requirepass"), strings.EqualFold(n, "masterauth"), strings.EqualFold(n, "masteruser"):
				hide = redactFrom(hide, args, i+1, i+2)
			}
		}
		return hide
	}
	return redacted(name, args)
}

func slowlogGetCmd(c *Ctx) {
	o := &c.e.obs
	if len(c.Args) > 3 {
		c.Error("ERR unknown subcommand or wrong number of arguments for '" + trunc(c.Arg(1), 128) + "'. Try SLOWLOG HELP.")
		return
	}
	count := int64(10)
	if len(c.Args) == 3 {
		n, ok := num.ParseInt(c.Args[2])
		if !ok || n < -1 {
			c.Error("ERR count should be greater than or equal to -1")
			return
		}
		count = n
		if n == -1 {
			count = int64(len(o.slow))
		}
	}
	count = min(count, int64(len(o.slow)))
	c.W.Array(int(count))
	for i := 0; i < int(count); i++ {
		ent := &o.slow[len(o.slow)-1-i]
		c.W.Array(6)
		c.W.Int(ent.id)
		c.W.Int(ent.time)
		c.W.Int(ent.usec)
		c.W.Array(len(ent.args))
		for _, a := range ent.args {
			c.W.Bulk(a)
		}
		c.W.BulkString(ent.peer)
		c.W.BulkString(ent.name)
	}
}

func slowlogHelpCmd(c *Ctx) {
	helpReply(c, "SLOWLOG",
		"GET [<count>]",
		"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
		"    Entries are made of:",
		"    id, timestamp, time in microseconds, arguments array, client IP and port,",
		"    client name",
		"LEN",
		"    Return the length of the slowlog.",
		"RESET",
		"    Reset the slowlog.",
	)
}

// latencySeries is an event's last 160 samples, one per second at most
// (the highest of that second), and its all-time highest.
type latencySeries struct {
	idx     int
	max     int64
	samples [160]latencySample
}

type latencySample struct{ time, ms int64 }

func (o *observer) addLatency(event string, ms, now int64) {
	if o.events == nil {
		o.events = make(map[string]*latencySeries)
	}
	ts := o.events[event]
	if ts == nil {
		ts = &latencySeries{}
		o.events[event] = ts
	}
	ts.max = max(ts.max, ms)
	prev := &ts.samples[(ts.idx+len(ts.samples)-1)%len(ts.samples)]
	if prev.time == now {
		prev.ms = max(prev.ms, ms)
		return
	}
	ts.samples[ts.idx] = latencySample{now, ms}
	ts.idx = (ts.idx + 1) % len(ts.samples)
}

// history returns the series' samples, oldest first.
func (ts *latencySeries) history() []latencySample {
	var out []latencySample
	for j := 0; j < len(ts.samples); j++ {
		s := ts.samples[(ts.idx+j)%len(ts.samples)]
		if s.time != 0 {
			out = append(out, s)
		}
	}
	return out
}

func (o *observer) eventNames() []string {
	names := make([]string, 0, len(o.events))
	for n := range o.events {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func latencyLatestCmd(c *Ctx) {
	o := &c.e.obs
	names := o.eventNames()
	c.W.Array(len(names))
	for _, n := range names {
		ts := o.events[n]
		last := ts.samples[(ts.idx+len(ts.samples)-1)%len(ts.samples)]
		c.W.Array(4)
		c.W.BulkString(n)
		c.W.Int(last.time)
		c.W.Int(last.ms)
		c.W.Int(ts.max)
	}
}

func latencyHistoryCmd(c *Ctx) {
	ts := c.e.obs.events[c.Arg(2)]
	if ts == nil {
		c.W.Array(0)
		return
	}
	h := ts.history()
	c.W.Array(len(h))
	for _, s := range h {
		c.W.Array(2)
		c.W.Int(s.time)
		c.W.Int(s.ms)
	}
}

func latencyResetCmd(c *Ctx) {
	o := &c.e.obs
	n := 0
	if len(c.Args) == 2 {
		n = len(o.events)
		o.events = nil
	} else {
		for _, a := range c.Args[2:] {
			if _, ok := o.events[view(a)]; ok {
				delete(o.events, view(a))
				n++
			}
		}
	}
	c.W.Int(int64(n))
}

func latencyDoctorCmd(c *Ctx) {
	o := &c.e.obs
	switch {
	case len(o.events) == 0 && o.latThreshold == 0:
		c.W.Verbatim("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n")
	case len(o.events) == 0:
		c.W.Verbatim("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n")
	default:
		// Redis's opening and its line per event; the advice that follows
		// in Redis is ferry's own.
		var b strings.Builder
		b.WriteString("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n")
		now := c.e.now().Unix()
		for i, n := range o.eventNames() {
			h := o.events[n].history()
			var sum, oldest int64
			for _, s := range h {
				sum += s.ms
				if oldest == 0 || s.time < oldest {
					oldest = s.time
				}
			}
			avg := sum / int64(len(h))
			var dev int64
			for _, s := range h {
				d := avg - s.ms
				if d < 0 {
					d = -d
				}
				dev += d
			}
			period := max(now-oldest, 1)
			b.WriteString(strconv.Itoa(i+1) + ". " + n + ": " + strconv.Itoa(len(h)) + " latency spikes (average " +
				strconv.FormatInt(avg, 10) + "ms, mean deviation " + strconv.FormatInt(dev/int64(len(h)), 10) + "ms, period " +
				strconv.FormatFloat(float64(period)/float64(len(h)), 'f', 2, 64) + " sec). Worst all time event " +
				strconv.FormatInt(o.events[n].max, 10) + "ms.\n")
		}
		b.WriteString("\nferry's advice: SLOWLOG GET lists the commands that were slow to run.\n")
		c.W.Verbatim(b.String())
	}
}

// graphCols is the width of LATENCY GRAPH's chart.
const graphCols = 80

func latencyGraphCmd(c *Ctx) {
	ts := c.e.obs.events[c.Arg(2)]
	if ts == nil {
		c.Error("ERR No samples available for event '" + c.Arg(2) + "'")
		return
	}
	h := ts.history()
	hi, lo := h[0].ms, h[0].ms
	labels := make([]string, len(h))
	now := c.e.now().Unix()
	for i, s := range h {
		hi, lo = max(hi, s.ms), min(lo, s.ms)
		switch ago := now - s.time; {
		case ago < 60:
			labels[i] = strconv.FormatInt(ago, 10) + "s"
		case ago < 3600:
			labels[i] = strconv.FormatInt(ago/60, 10) + "m"
		case ago < 86400:
			labels[i] = strconv.FormatInt(ago/3600, 10) + "h"
		default:
			labels[i] = strconv.FormatInt(ago/86400, 10) + "d"
		}
	}
	var b strings.Builder
	b.WriteString(c.Arg(2) + " - high " + strconv.FormatInt(hi, 10) + " ms, low " + strconv.FormatInt(lo, 10) + " ms (all time high " + strconv.FormatInt(ts.max, 10) + " ms)\n")
	b.WriteString(strings.Repeat("-", graphCols) + "\n")
	for j := 0; j < len(h); j += graphCols {
		if j > 0 {
			b.WriteByte('\n')
		}
		end := min(j+graphCols, len(h))
		sparkline(&b, h[j:end], labels[j:end], lo, hi)
	}
	c.W.Verbatim(b.String())
}

// sparkline draws samples as Redis's LATENCY GRAPH does: four rows of
// "_o#" steps filled below with '|', scaled between lo and hi, then a
// blank row and each sample's label written downwards.
func sparkline(b *strings.Builder, h []latencySample, labels []string, lo, hi int64) {
	const rows, marks = 4, "_o#"
	steps := rows * len(marks)
	rel := float64(hi - lo)
	if rel == 0 {
		rel = 1
	}
	line := make([]byte, len(h))
	for row := 0; ; row++ {
		more := false
		for j := range line {
			line[j] = ' '
		}
		for j, s := range h {
			if row < rows {
				more = true
				step := int(float64(int(float64(s.ms-lo)*float64(steps))) / rel)
				step = min(max(step, 0), steps-1)
				switch k := step - (rows-row-1)*len(marks); {
				case k >= 0 && k < len(marks):
					line[j] = marks[k]
				case k >= len(marks):
					line[j] = '|'
				}
				continue
			}
			if row == rows {
				more = true // the blank row before the labels
				break
			}
			if k := row - rows - 1; k < len(labels[j]) {
				more = true
				line[j] = labels[j][k]
			}
		}
		if !more {
			return
		}
		b.Write(line)
		b.WriteByte('\n')
	}
}

func latencyHelpCmd(c *Ctx) {
	helpReply(c, "LATENCY",
		"DOCTOR",
		"    Return a human readable latency analysis report.",
		"GRAPH <event>",
		"    Return an ASCII latency graph for the <event> class.",
		"HISTORY <event>",
		"    Return time-latency samples for the <event> class.",
		"LATEST",
		"    Return the latest latency samples for all events.",
		"RESET [<event> ...]",
		"    Reset latency data of one or more <event> classes.",
		"    (default: reset all data for all event classes)",
		"HISTOGRAM [COMMAND ...]",
		"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
		"    If no commands are specified then all histograms are replied.",
	)
}

// parsePercentiles parses latency-tracking-info-percentiles: numbers in
// [0, 100] separated by single spaces, or nothing.
func parsePercentiles(v string) (any, string) {
	out := []float64{}
	if v == "" {
		return out, ""
	}
	for _, f := range strings.Split(v, " ") {
		p, err := strconv.ParseFloat(f, 64)
		if err != nil || strings.ContainsAny(f, "_xXpP") {
			return nil, "Invalid latency-tracking-info-percentiles parameters"
		}
		if p < 0 || p > 100 {
			return nil, "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
		}
		out = append(out, p)
	}
	return out, ""
}

// formatPercentiles writes each as "%f" without trailing zeros.
func formatPercentiles(ps []float64) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		t := strconv.FormatFloat(p, 'f', 6, 64)
		t = strings.TrimRight(strings.TrimRight(t, "0"), ".")
		s[i] = t
	}
	return strings.Join(s, " ")
}

func infoCommandstats(e *Engine, b *infoBuf) {
	var line func(cmd *Command)
	line = func(cmd *Command) {
		if cmd.Sub != nil {
			for _, s := range cmd.Subcommands() {
				line(s)
			}
		}
		st := cmd.stats
		if st.calls == 0 && st.failed == 0 && st.rejected == 0 {
			return
		}
		usec := tickNanos(st.ticks) / 1000
		per := 0.0
		if st.calls > 0 {
			per = float64(usec) / float64(st.calls)
		}
		b.str("cmdstat_"+cmd.Name, "calls="+strconv.FormatInt(st.calls, 10)+",usec="+strconv.FormatInt(usec, 10)+
			",usec_per_call="+strconv.FormatFloat(per, 'f', 2, 64)+",rejected_calls="+strconv.FormatInt(st.rejected, 10)+
			",failed_calls="+strconv.FormatInt(st.failed, 10))
	}
	for _, cmd := range e.tab.All() {
		line(cmd)
	}
}

func infoErrorstats(e *Engine, b *infoBuf) {
	codes := make([]string, 0, len(e.obs.errors))
	for c := range e.obs.errors {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		b.str("errorstat_"+c, "count="+strconv.FormatInt(e.obs.errors[c], 10))
	}
}

// resetObserveStats clears what CONFIG RESETSTAT clears here: every
// command's counters and latency histogram, and the error counts.
func (e *Engine) resetObserveStats() {
	for _, cmd := range e.tab.All() {
		cmd.stats, cmd.hist = cmdStats{}, nil
		for _, s := range cmd.Sub {
			s.stats, s.hist = cmdStats{}, nil
		}
	}
	e.obs.errors = nil
}

// latencyHist is a command's latency histogram (INFO latencystats,
// LATENCY HISTOGRAM): the counts of an HDR histogram of nanoseconds from 1
// to 1e9 with two significant figures, laid out as Redis's hdr_histogram
// lays them out, so that percentiles and buckets come out as Redis's do.
// Like Redis, it records whole microseconds (times 1000).
type latencyHist struct {
	total  int64
	counts [histLen]int64
}

// histLen holds every index up to 1e9 (bucket 22).
const histLen = 24 * 128

const (
	histMin = 1
	histMax = 1_000_000_000
)

func histBucket(v int64) int { return bits.Len64(uint64(v)|255) - 8 }

func histIndex(v int64) int {
	bi := histBucket(v)
	return (bi+1)<<7 + int(v>>bi) - 128
}

// histValue is the lowest value counted at index i.
func histValue(i int) int64 {
	bi := i>>7 - 1
	sbi := i&127 + 128
	if bi < 0 {
		sbi -= 128
		bi = 0
	}
	return int64(sbi) << bi
}

// histHighest is the highest value equivalent to v (counted with it).
func histHighest(v int64) int64 {
	bi := histBucket(v)
	return (v>>bi)<<bi + 1<<bi - 1
}

func (h *latencyHist) add(t int64) {
	v := min(max(tickNanos(t)/1000*1000, histMin), histMax)
	h.counts[histIndex(v)]++
	h.total++
}

// percentile is hdr_value_at_percentile's answer, in nanoseconds.
func (h *latencyHist) percentile(p float64) int64 {
	p = min(p, 100)
	want := max(int64(p/100*float64(h.total)+0.5), 1)
	var n int64
	for i, c := range h.counts {
		n += c
		if n >= want {
			return histHighest(histValue(i))
		}
	}
	return 0
}

// cdf returns, for each power-of-two level from 1024 ns at which the
// cumulative count grows, the level's highest equivalent value in
// microseconds and the count of values up to it (hdr's logarithmic
// iterator, as LATENCY HISTOGRAM reports it).
func (h *latencyHist) cdf() [][2]int64 {
	var out [][2]int64
	var cum, prev int64
	i := 0
	for level := int64(1024); cum < h.total; level *= 2 {
		// Every index whose lowest value is at most the level counts.
		for i < histLen && histValue(i) <= level {
			cum += h.counts[i]
			i++
		}
		if cum > prev {
			out = append(out, [2]int64{histHighest(level) / 1000, cum})
		}
		prev = cum
	}
	return out
}

func latencyHistogramCmd(c *Ctx) {
	var cmds []*Command
	if len(c.Args) == 2 {
		for _, cmd := range c.e.tab.All() {
			if cmd.hist != nil {
				cmds = append(cmds, cmd)
			}
			for _, s := range cmd.Subcommands() {
				if s.hist != nil {
					cmds = append(cmds, s)
				}
			}
		}
	} else {
		for _, a := range c.Args[2:] {
			cmd := c.e.tab.lookupFullName(view(a))
			if cmd == nil {
				continue
			}
			if cmd.hist != nil {
				cmds = append(cmds, cmd)
			}
			for _, s := range cmd.Subcommands() {
				if s.hist != nil {
					cmds = append(cmds, s)
				}
			}
		}
	}
	c.W.Map(len(cmds))
	for _, cmd := range cmds {
		c.W.BulkString(cmd.Name)
		c.W.Map(2)
		c.W.BulkString("calls")
		c.W.Int(cmd.hist.total)
		c.W.BulkString("histogram_usec")
		cdf := cmd.hist.cdf()
		c.W.Map(len(cdf))
		for _, p := range cdf {
			c.W.Int(p[0])
			c.W.Int(p[1])
		}
	}
}

func infoLatencystats(e *Engine, b *infoBuf) {
	if !e.obs.tracking {
		return
	}
	line := func(cmd *Command) {
		if cmd.hist == nil {
			return
		}
		var s strings.Builder
		for j, p := range e.obs.percentiles {
			if j > 0 {
				s.WriteByte(',')
			}
			s.WriteString("p" + formatPercentiles([]float64{p}) + "=" + strconv.FormatFloat(float64(cmd.hist.percentile(p))/1000, 'f', 3, 64))
		}
		b.str("latency_percentiles_usec_"+cmd.Name, s.String())
	}
	for _, cmd := range e.tab.All() {
		line(cmd)
		for _, s := range cmd.Subcommands() {
			line(s)
		}
	}
}
