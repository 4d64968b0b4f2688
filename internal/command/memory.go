package command

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/ferrydb/ferry/internal/keyspace"
)

func init() {
	for _, name := range []string{"memory|stats", "memory|doctor", "memory|malloc-stats"} {
		tipTable[name] = "nondeterministic_output,request_policy:all_shards,response_policy:special"
		argSyntax[name] = ""
	}
}

func registerMemory(t *Table) {
	srv := func(c *Command) *Command { c.Group = "server"; return c }
	t.Add(
		srv(&Command{Name: "memory", Arity: -2, Since: "4.0.0", Summary: "A container for memory diagnostics commands", ACL: []string{"slow"}}),
		srv(&Command{Name: "memory|help", Arity: 2, Flags: Loading | Stale, Since: "4.0.0", Summary: "Show helpful text about the different subcommands", ACL: []string{"slow"}, Handler: memoryHelpCmd}),
		srv(&Command{Name: "memory|usage", Arity: -3, Flags: ReadOnly, Since: "4.0.0", Summary: "Estimate the memory usage of a key", ACL: []string{"read", "slow"},
			FirstKey: 2, LastKey: 2, Step: 1, Handler: memoryUsageCmd}),
		srv(&Command{Name: "memory|purge", Arity: 2, Since: "4.0.0", Summary: "Ask the allocator to release memory", ACL: []string{"slow"}, Handler: memoryPurgeCmd}),
		srv(&Command{Name: "memory|stats", Arity: 2, Since: "4.0.0", Summary: "Reports where the server's memory goes: overheads, keys, dataset, Go heap.", ACL: []string{"slow"}, Handler: memoryStatsCmd}),
		srv(&Command{Name: "memory|doctor", Arity: 2, Since: "4.0.0", Summary: "Reports memory problems, in prose.", ACL: []string{"slow"}, Handler: memoryDoctorCmd}),
		srv(&Command{Name: "memory|malloc-stats", Arity: 2, Since: "4.0.0", Summary: "Reports the Go runtime's memory statistics (where Redis reports jemalloc's).", ACL: []string{"slow"}, Handler: memoryMallocStatsCmd}),
	)
}

func memoryHelpCmd(c *Ctx) {
	helpReply(c, "MEMORY",
		"USAGE <key> [SAMPLES <count>]",
		"    Estimate the bytes key and its value take in ferry, from up to <count>",
		"    elements of a collection (default 5; 0: all of them).",
		"PURGE",
		"    Collect garbage and return the freed memory to the operating system.",
		"STATS",
		"    Reply with where memory goes: overheads, keys, dataset and the Go heap.",
		"DOCTOR",
		"    Reply with a report of memory problems.",
		"MALLOC-STATS",
		"    Reply with the Go runtime's memory statistics (ferry has no jemalloc).")
}

// memoryUsageCmd estimates a key's memory, as Redis's MEMORY USAGE does
// from a sample of a collection's elements (the figures are ferry's: Go's
// headers and tables, not Redis's allocations). Options are checked before
// the key, as in Redis.
func memoryUsageCmd(c *Ctx) {
	samples := int64(5)
	for i := 3; i < len(c.Args); i++ {
		if !c.Is(i, "samples") || i+1 >= len(c.Args) {
			c.Error(ErrSyntax)
			return
		}
		n, ok := c.Int(i + 1)
		if !ok {
			return
		}
		if n < 0 {
			c.Error(ErrSyntax)
			return
		}
		if n == 0 {
			n = 1 << 62
		}
		samples = n
		i++
	}
	o := c.DB.Peek(c.Arg(2))
	if o == nil {
		c.W.Null()
		return
	}
	c.W.Int(int64(len(c.Arg(2))) + keyOverhead + valueSize(o, samples))
}

// Rough per-item costs in ferry's memory (Go): a key's table entry and
// object, and an element of each kind of collection beyond its bytes.
const (
	keyOverhead   = 64
	listElement   = 24
	setElement    = 32
	hashElement   = 48
	zsetElement   = 64
	collectionHdr = 64
)

// valueSize estimates o's value: a string's bytes, or a collection's
// average element (over up to samples of them) times its length.
func valueSize(o *keyspace.Object, samples int64) int64 {
	if o.Kind() == keyspace.KindString {
		return int64(len(o.Str()))
	}
	var seen, bytes int64
	var n, per int64
	take := func(size int) bool {
		seen++
		bytes += int64(size)
		return seen < samples
	}
	switch coll := o.Collection().(type) {
	case *keyspace.List:
		n, per = int64(coll.Len()), listElement
		coll.Each(func(s string) bool { return take(len(s)) })
	case *keyspace.Set:
		n, per = int64(coll.Len()), setElement
		coll.Range(func(m []byte) bool { return take(len(m)) })
	case *keyspace.Hash:
		n, per = int64(coll.Len()), hashElement
		coll.Range(func(f string, v []byte) bool { return take(len(f) + len(v)) })
	case *keyspace.ZSet:
		n, per = int64(coll.Len()), zsetElement
		coll.Range(func(m string, _ float64) bool { return take(len(m)) })
	case *keyspace.Stream:
		// A stream's nodes are its bytes (Redis's listpacks); groups aside.
		var b int64
		coll.EachNode(func(_ keyspace.StreamID, lp []byte) bool { b += int64(len(lp)) + 32; return true })
		return collectionHdr + b
	}
	if seen == 0 {
		return collectionHdr
	}
	return collectionHdr + n*(per+bytes/seen)
}

// memoryPurgeCmd starts a collection that hands the freed memory back to
// the operating system at once (Go otherwise returns it over minutes). It
// runs outside the engine lock, which a full collection of a large heap
// would hold for a noticeable time: the reply does not wait for it.
func memoryPurgeCmd(c *Ctx) {
	go debug.FreeOSMemory()
	c.W.OK()
}

// Per-key costs of ferry's key tables (package dict): a key's node (its
// name's header, a link, the object) and its bucket slot; an expiry's node
// and slot. Estimates from the structures' sizes, not measured.
const (
	mainEntryBytes   = 88
	expireEntryBytes = 32
)

// memOverhead is what MEMORY STATS and MEMORY DOCTOR report, as Redis's
// getMemoryOverheadData computes it, from ferry's own figures: the Go
// heap stands for the allocator, the table overheads are estimates.
type memOverhead struct {
	total, peak, startup       uint64
	clientsNormal              uint64
	luaCaches, functionsCaches uint64
	dbs                        []dbOverhead
	overheadTotal              uint64
	keys                       uint64
	bytesPerKey                uint64
	dataset                    uint64
	datasetPerc, peakPerc      float32
	allocated, active          uint64
	resident, rss              uint64
}

// dbOverhead is one database's table overhead (databases holding keys only).
type dbOverhead struct {
	index         int
	main, expires uint64
}

func (e *Engine) memOverhead() memOverhead {
	st := e.srv()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memOverhead{total: ms.HeapAlloc}
	if m.total > st.peakMem {
		st.peakMem = m.total
	}
	m.peak = st.peakMem
	m.startup = min(st.startMem, m.total)
	// Clients' pending asynchronous output, as INFO counts it.
	for _, cl := range e.clients {
		cl.mu.Lock()
		m.clientsNormal += uint64(cap(cl.pending))
		cl.mu.Unlock()
	}
	if e.lua != nil {
		// Compiled scripts: their prototypes are not measurable from here;
		// a kilobyte each is the estimate.
		m.luaCaches = uint64(len(e.lua.scripts)) * 1024
	}
	for _, code := range e.FunctionLibraries() {
		m.functionsCaches += uint64(len(code))
	}
	m.overheadTotal = m.startup + m.clientsNormal + m.luaCaches + m.functionsCaches
	for i := range keyspace.NumDBs {
		db := e.ks.DB(i)
		n := uint64(db.Len())
		if n == 0 {
			continue
		}
		d := dbOverhead{index: i, main: n * mainEntryBytes, expires: uint64(db.Expires()) * expireEntryBytes}
		m.dbs = append(m.dbs, d)
		m.keys += n
		m.overheadTotal += d.main + d.expires
	}
	if m.total > m.overheadTotal {
		m.dataset = m.total - m.overheadTotal
	}
	net := uint64(1)
	if m.total > m.startup {
		net = m.total - m.startup
	}
	if m.keys > 0 {
		m.bytesPerKey = net / m.keys
	}
	// Redis computes the percentages in single precision.
	m.datasetPerc = float32(m.dataset) * 100 / float32(net)
	m.peakPerc = float32(m.total) * 100 / float32(max(m.peak, 1))
	m.allocated, m.active, m.resident = ms.HeapAlloc, ms.HeapInuse, ms.HeapSys-ms.HeapReleased
	m.rss = processRSS()
	if m.rss == 0 {
		m.rss = ms.Sys
	}
	return m
}

// ratio32 is a/b in single precision, 0 when b is 0.
func ratio32(a, b uint64) float32 {
	if b == 0 {
		return 0
	}
	return float32(a) / float32(b)
}

// memoryStatsCmd is MEMORY STATS: Redis 7.0's fields, in its order and
// types, with ferry's figures (see memOverhead). Buffers ferry does not
// hold in memory (replication backlog, replica output, cluster links, an
// AOF buffer) are 0.
func memoryStatsCmd(c *Ctx) {
	m := c.e.memOverhead()
	w := c.W
	w.Map(27 + len(m.dbs))
	num := func(name string, v int64) {
		w.BulkString(name)
		w.Int(v)
	}
	dbl := func(name string, v float32) {
		w.BulkString(name)
		w.Double(float64(v))
	}
	num("peak.allocated", int64(m.peak))
	num("total.allocated", int64(m.total))
	num("startup.allocated", int64(m.startup))
	num("replication.backlog", 0)
	num("clients.slaves", 0)
	num("clients.normal", int64(m.clientsNormal))
	num("cluster.links", 0)
	num("aof.buffer", 0)
	num("lua.caches", int64(m.luaCaches))
	num("functions.caches", int64(m.functionsCaches))
	for _, d := range m.dbs {
		w.BulkString("db." + strconv.Itoa(d.index))
		w.Map(3)
		num("overhead.hashtable.main", int64(d.main))
		num("overhead.hashtable.expires", int64(d.expires))
		num("overhead.hashtable.slot-to-keys", 0)
	}
	num("overhead.total", int64(m.overheadTotal))
	num("keys.count", int64(m.keys))
	num("keys.bytes-per-key", int64(m.bytesPerKey))
	num("dataset.bytes", int64(m.dataset))
	dbl("dataset.percentage", m.datasetPerc)
	dbl("peak.percentage", m.peakPerc)
	num("allocator.allocated", int64(m.allocated))
	num("allocator.active", int64(m.active))
	num("allocator.resident", int64(m.resident))
	dbl("allocator-fragmentation.ratio", ratio32(m.active, m.allocated))
	num("allocator-fragmentation.bytes", int64(m.active)-int64(m.allocated))
	dbl("allocator-rss.ratio", ratio32(m.resident, m.active))
	num("allocator-rss.bytes", int64(m.resident)-int64(m.active))
	dbl("rss-overhead.ratio", ratio32(m.rss, m.resident))
	num("rss-overhead.bytes", int64(m.rss)-int64(m.resident))
	dbl("fragmentation", ratio32(m.rss, m.total))
	num("fragmentation.bytes", int64(m.rss)-int64(m.total))
}

// Memory doctor reports: Redis's words for the cases ferry judges the same
// way, ferry's own for what only it has.
const (
	doctorEmpty = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. " +
		"Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
	doctorFine = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
)

// memoryDoctorCmd is MEMORY DOCTOR, with Redis's thresholds over ferry's
// figures (the Go heap as the allocator): an instance under 5 MB is too
// small to judge; otherwise a peak over 150% of the heap in use, RSS over
// 1.4 times the heap and 10 MB more, heap spans over 1.1 times (and 10 MB
// more than) what they hold, and clients' pending output over 200 KB each
// on average are reported. Redis's checks of jemalloc's resident pages,
// replica buffers and the script cache have no counterpart in ferry.
func memoryDoctorCmd(c *Ctx) {
	m := c.e.memOverhead()
	if m.total < 5<<20 {
		c.W.Verbatim(doctorEmpty)
		return
	}
	var issues []string
	if ratio32(m.peak, m.total) > 1.5 {
		issues = append(issues, " * Peak memory: In the past this instance used more than 150% the memory that is currently using. "+
			"Go's heap returns freed memory to the operating system over minutes, so RSS can stay above the heap in use for a while; "+
			"MEMORY PURGE returns it at once.")
	}
	if rss := m.rss; ratio32(rss, m.total) > 1.4 && rss > m.total+10<<20 {
		issues = append(issues, " * High total RSS: the process's Resident Set Size is more than 1.4 times the Go heap in use. "+
			"This is usually due to a large peak memory (see above), or to memory the Go runtime keeps for reuse; MEMORY PURGE returns what it can.")
	}
	if ratio32(m.active, m.allocated) > 1.1 && m.active > m.allocated+10<<20 {
		issues = append(issues, " * High heap fragmentation: the Go heap's spans in use hold more than 1.1 times the bytes allocated in them. "+
			"This usually follows many deletions of small values; it shrinks as the heap is reused.")
	}
	if n := uint64(len(c.e.clients)); n > 0 && m.clientsNormal/n > 200<<10 {
		issues = append(issues, " * Big client buffers: the clients' pending output is more than 200K per client (on average). "+
			"This may come from Pub/Sub clients that do not read fast enough, or from large replies; CLIENT LIST shows each client's buffers.")
	}
	if len(issues) == 0 {
		c.W.Verbatim(doctorFine)
		return
	}
	c.W.Verbatim("Sam, I detected a few issues in this Redis instance memory implants:\n\n" +
		strings.Join(issues, "\n\n") + "\n\nI'm here to keep you safe, Sam. I want to help you.\n")
}

// memoryMallocStatsCmd answers MEMORY MALLOC-STATS, where Redis prints
// jemalloc's statistics, with the Go runtime's memory statistics
// (runtime.MemStats): ferry's allocator is Go's.
func memoryMallocStatsCmd(c *Ctx) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var b strings.Builder
	line := func(name string, v uint64, what string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(strconv.FormatUint(v, 10))
		b.WriteString("  (")
		b.WriteString(what)
		b.WriteString(")\n")
	}
	b.WriteString("___ Begin Go runtime memory statistics ___\n")
	b.WriteString("Version: " + runtime.Version() + "\n")
	line("HeapAlloc", ms.HeapAlloc, "bytes of live and not yet collected objects")
	line("HeapInuse", ms.HeapInuse, "bytes in spans holding objects")
	line("HeapIdle", ms.HeapIdle, "bytes in idle spans")
	line("HeapReleased", ms.HeapReleased, "bytes returned to the operating system")
	line("HeapSys", ms.HeapSys, "bytes of heap obtained from the operating system")
	line("HeapObjects", ms.HeapObjects, "objects allocated")
	line("StackInuse", ms.StackInuse, "bytes of goroutine stacks")
	line("MSpanInuse", ms.MSpanInuse, "bytes of span structures")
	line("MCacheInuse", ms.MCacheInuse, "bytes of per-P caches")
	line("GCSys", ms.GCSys, "bytes of garbage collector metadata")
	line("OtherSys", ms.OtherSys, "other runtime bytes")
	line("Sys", ms.Sys, "bytes obtained from the operating system in all")
	line("TotalAlloc", ms.TotalAlloc, "bytes allocated since the process started")
	line("Mallocs", ms.Mallocs, "allocations since the process started")
	line("Frees", ms.Frees, "frees since the process started")
	line("NextGC", ms.NextGC, "heap size at which the next collection starts")
	line("NumGC", uint64(ms.NumGC), "collections completed")
	line("NumForcedGC", uint64(ms.NumForcedGC), "collections forced (MEMORY PURGE)")
	b.WriteString("GCCPUFraction: " + strconv.FormatFloat(ms.GCCPUFraction, 'f', 6, 64) + "  (share of CPU time spent collecting)\n")
	b.WriteString("--- End Go runtime memory statistics ---\n")
	c.W.Verbatim(b.String())
}
