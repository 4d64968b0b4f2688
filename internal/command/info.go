package command

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// INFO [section ...]: Redis 7.0's sections, field names and format. Fields
// that mean nothing for ferry (forks, AOF, Lua) are present with the values
// a Redis that never used the feature reports. Memory figures come from
// the Go runtime: used_memory is the bytes of allocated heap objects
// (HeapAlloc: live data plus garbage the collector has not freed yet, the
// analogue of what Redis's allocator counts).

func registerInfo(t *Table) {
	t.Add(&Command{Name: "info", Arity: -1, Flags: Loading | Stale, Group: "server", Since: "1.0.0", Summary: "Describes the server in sections of name:value lines (ferry's own figures in section \"ferry\").", ACL: []string{"slow", "dangerous"}, Handler: infoCmd})
}

// infoDefault lists the sections INFO shows without arguments.
var infoDefault = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "module_list", "errorstats", "cluster", "keyspace"}

// infoSections is every section, in output order, with its writer.
var infoSections = []struct {
	name string
	fn   func(e *Engine, b *infoBuf)
}{
	{"server", infoServer},
	{"clients", infoClients},
	{"memory", infoMemory},
	{"persistence", infoPersistence},
	{"stats", infoStats},
	{"replication", infoReplication},
	{"cpu", infoCPU},
	{"modules", func(*Engine, *infoBuf) {}},
	{"commandstats", infoCommandstats},
	{"errorstats", infoErrorstats},
	{"latencystats", infoLatencystats},
	{"cluster", func(_ *Engine, b *infoBuf) { b.int("cluster_enabled", 0) }},
	{"keyspace", infoKeyspace},
}

var infoTitles = map[string]string{
	"server": "Server", "clients": "Clients", "memory": "Memory", "persistence": "Persistence",
	"stats": "Stats", "replication": "Replication", "cpu": "CPU", "modules": "Modules",
	"commandstats": "Commandstats", "errorstats": "Errorstats", "latencystats": "Latencystats",
	"cluster": "Cluster", "keyspace": "Keyspace",
}

func infoCmd(c *Ctx) {
	want := make(map[string]bool)
	all := false
	if len(c.Args) == 1 {
		for _, s := range infoDefault {
			want[s] = true
		}
	}
	for _, a := range c.Args[1:] {
		switch s := strings.ToLower(view(a)); s {
		case "default":
			for _, s := range infoDefault {
				want[s] = true
			}
		case "all", "everything":
			all = true
		default:
			want[s] = true
		}
	}
	c.W.Verbatim(c.e.info(all, want))
}

// info returns the text of INFO for the given sections (every Redis section
// when all is set; the "ferry" section only when named).
func (e *Engine) info(all bool, sections map[string]bool) string {
	b := &infoBuf{}
	for _, s := range infoSections {
		on := all || sections[s.name]
		if s.name == "modules" {
			on = on || sections["module_list"]
		}
		if !on {
			continue
		}
		b.section(infoTitles[s.name])
		s.fn(e, b)
	}
	if sections["ferry"] {
		b.section("Ferry")
		b.str("ferry_version", e.cfg.FerryVersion)
		b.str("ferry_go_version", runtime.Version())
		b.int("ferry_active_expire", boolInt(e.ActiveExpireEnabled()))
	}
	return b.String()
}

// infoBuf builds INFO text: "# Title\r\n" headers, "name:value\r\n" lines,
// and a blank line between sections.
type infoBuf struct {
	bytes.Buffer
	n int
}

func (b *infoBuf) section(title string) {
	if b.n > 0 {
		b.WriteString("\r\n")
	}
	b.n++
	b.WriteString("# ")
	b.WriteString(title)
	b.WriteString("\r\n")
}

func (b *infoBuf) str(name, v string) {
	b.WriteString(name)
	b.WriteByte(':')
	b.WriteString(v)
	b.WriteString("\r\n")
}

func (b *infoBuf) int(name string, v int64) { b.str(name, strconv.FormatInt(v, 10)) }

func (b *infoBuf) uint(name string, v uint64) { b.str(name, strconv.FormatUint(v, 10)) }

// float writes v as C's "%.2f".
func (b *infoBuf) float(name string, v float64) { b.str(name, strconv.FormatFloat(v, 'f', 2, 64)) }

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

func infoServer(e *Engine, b *infoBuf) {
	st := e.srv()
	uptime := int64(time.Since(e.started) / time.Second)
	now := e.now()
	b.str("redis_version", e.cfg.Version)
	b.str("redis_git_sha1", "00000000")
	b.int("redis_git_dirty", 0)
	b.str("redis_build_id", "0")
	b.str("redis_mode", "standalone")
	b.str("os", osName())
	b.int("arch_bits", strconv.IntSize)
	b.str("monotonic_clock", "POSIX clock_gettime")
	b.str("multiplexing_api", pollerName())
	b.str("atomicvar_api", "c11-builtin")
	b.str("gcc_version", "0.0.0")
	b.int("process_id", int64(os.Getpid()))
	b.str("process_supervised", "no")
	b.str("run_id", st.runID)
	b.int("tcp_port", int64(e.port()))
	b.int("server_time_usec", now.UnixMicro())
	b.int("uptime_in_seconds", uptime)
	b.int("uptime_in_days", uptime/(3600*24))
	b.int("hz", st.settings.hz)
	b.int("configured_hz", st.settings.hz)
	b.int("lru_clock", now.Unix()&(1<<24-1))
	exe, _ := os.Executable()
	b.str("executable", exe)
	b.str("config_file", "")
	b.int("io_threads_active", 0)
}

// osName is uname's "sysname release machine".
func osName() string {
	if runtime.GOOS != "linux" {
		return runtime.GOOS + " " + runtime.GOARCH
	}
	release, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7l"}[runtime.GOARCH]
	if machine == "" {
		machine = runtime.GOARCH
	}
	return "Linux " + strings.TrimSpace(string(release)) + " " + machine
}

// pollerName names the mechanism Go's network poller uses on this system.
func pollerName() string {
	switch runtime.GOOS {
	case "linux", "android":
		return "epoll"
	case "darwin", "freebsd", "netbsd", "openbsd", "dragonfly":
		return "kqueue"
	case "solaris", "illumos":
		return "evport"
	}
	return "select"
}

func listenPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0
	}
	p, _ := strconv.Atoi(addr[i+1:])
	return p
}

func infoClients(e *Engine, b *infoBuf) {
	blocked, timeouts := 0, 0
	for _, cl := range e.clients {
		if cl.block != nil {
			blocked++
			if !cl.block.deadline.IsZero() {
				timeouts++
			}
		}
	}
	clients := int64(len(e.clients))
	for _, cl := range e.clients {
		if cl.syncReplica() {
			clients-- // Redis counts its replicas apart
		}
	}
	b.int("connected_clients", clients)
	b.int("cluster_connections", 0)
	b.int("maxclients", int64(e.MaxClients()))
	b.int("client_recent_max_input_buffer", 0)
	b.int("client_recent_max_output_buffer", 0)
	b.int("blocked_clients", int64(blocked))
	b.int("tracking_clients", int64(e.trk.clients))
	b.int("clients_in_timeout_table", int64(timeouts))
}

// bytesToHuman formats n as Redis does in INFO memory (1.04M, 512B...).
func bytesToHuman(n uint64) string {
	units := []string{"K", "M", "G", "T", "P"}
	if n < 1024 {
		return strconv.FormatUint(n, 10) + "B"
	}
	d := float64(n) / 1024
	for _, u := range units {
		if d < 1024 {
			return strconv.FormatFloat(d, 'f', 2, 64) + u
		}
		d /= 1024
	}
	return strconv.FormatUint(n, 10) + "B"
}

// processRSS returns the resident set size from /proc/self/statm, or 0.
func processRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// systemMemory returns MemTotal from /proc/meminfo, or 0.
func systemMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func infoMemory(e *Engine, b *infoBuf) {
	st := e.srv()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	used := ms.HeapAlloc
	if used > st.peakMem {
		st.peakMem = used
	}
	rss := processRSS()
	if rss == 0 {
		rss = ms.Sys
	}
	startup := min(st.startMem, used)
	// Clients' pending asynchronous output (reply buffers are flushed by
	// their connections outside the engine lock and are not counted).
	var clientsMem uint64
	for _, cl := range e.clients {
		cl.mu.Lock()
		clientsMem += uint64(cap(cl.pending))
		cl.mu.Unlock()
	}
	overhead := startup + clientsMem
	dataset := uint64(0)
	if used > overhead {
		dataset = used - overhead
	}
	net := used - startup
	if net == 0 {
		net = 1
	}
	allocated, active, resident := ms.HeapAlloc, ms.HeapInuse, ms.HeapSys-ms.HeapReleased
	sysMem := systemMemory()
	set := st.settings

	b.uint("used_memory", used)
	b.str("used_memory_human", bytesToHuman(used))
	b.uint("used_memory_rss", rss)
	b.str("used_memory_rss_human", bytesToHuman(rss))
	b.uint("used_memory_peak", st.peakMem)
	b.str("used_memory_peak_human", bytesToHuman(st.peakMem))
	b.str("used_memory_peak_perc", strconv.FormatFloat(ratio(used, st.peakMem)*100, 'f', 2, 64)+"%")
	b.uint("used_memory_overhead", overhead)
	b.uint("used_memory_startup", startup)
	b.uint("used_memory_dataset", dataset)
	b.str("used_memory_dataset_perc", strconv.FormatFloat(ratio(dataset, net)*100, 'f', 2, 64)+"%")
	b.uint("allocator_allocated", allocated)
	b.uint("allocator_active", active)
	b.uint("allocator_resident", resident)
	b.uint("total_system_memory", sysMem)
	b.str("total_system_memory_human", bytesToHuman(sysMem))
	b.int("used_memory_lua", 0)
	b.int("used_memory_vm_eval", 0)
	b.str("used_memory_lua_human", "0B")
	b.int("used_memory_scripts_eval", 0)
	cached := 0
	if e.lua != nil {
		cached = len(e.lua.scripts)
	}
	b.int("number_of_cached_scripts", int64(cached))
	libs, funcs := e.functionCounts()
	b.int("number_of_functions", int64(funcs))
	b.int("number_of_libraries", int64(libs))
	b.int("used_memory_vm_functions", 0)
	b.int("used_memory_vm_total", 0)
	b.str("used_memory_vm_total_human", "0B")
	b.int("used_memory_functions", 0)
	b.int("used_memory_scripts", 0)
	b.str("used_memory_scripts_human", "0B")
	b.uint("maxmemory", set.maxmemory)
	b.str("maxmemory_human", bytesToHuman(set.maxmemory))
	b.str("maxmemory_policy", set.maxmemoryPolicy)
	b.float("allocator_frag_ratio", ratio(active, allocated))
	b.int("allocator_frag_bytes", int64(active)-int64(allocated))
	b.float("allocator_rss_ratio", ratio(resident, active))
	b.int("allocator_rss_bytes", int64(resident)-int64(active))
	b.float("rss_overhead_ratio", ratio(rss, resident))
	b.int("rss_overhead_bytes", int64(rss)-int64(resident))
	b.float("mem_fragmentation_ratio", ratio(rss, used))
	b.int("mem_fragmentation_bytes", int64(rss)-int64(used))
	b.int("mem_not_counted_for_evict", 0)
	b.int("mem_replication_backlog", 0)
	b.int("mem_total_replication_buffers", 0)
	b.int("mem_clients_slaves", 0)
	b.uint("mem_clients_normal", clientsMem)
	b.int("mem_cluster_links", 0)
	b.int("mem_aof_buffer", 0)
	b.str("mem_allocator", runtime.Version())
	b.int("active_defrag_running", 0)
	b.int("lazyfree_pending_objects", 0)
	b.int("lazyfreed_objects", 0)
}

// instMetrics samples counters to report per-second rates, as Redis's
// instantaneous_* fields (here sampled when INFO runs, at least 100ms apart).
type instMetrics struct {
	at                 time.Time
	cmds, in, out      int64
	opsRate            int64
	inKbps, outKbps    float64
	haveSample, haveRt bool
}

func (m *instMetrics) sample(now time.Time, cmds, in, out int64) {
	if m.haveSample {
		dt := now.Sub(m.at).Seconds()
		if dt < 0.1 {
			return
		}
		m.opsRate = int64(float64(cmds-m.cmds) / dt)
		m.inKbps = float64(in-m.in) / dt / 1024
		m.outKbps = float64(out-m.out) / dt / 1024
		m.haveRt = true
	}
	m.at, m.cmds, m.in, m.out, m.haveSample = now, cmds, in, out, true
}

func infoStats(e *Engine, b *infoBuf) {
	s := &e.stats
	cmds, in, out := s.Commands.Load(), s.NetInput.Load(), s.NetOutput.Load()
	m := &e.srv().inst
	m.sample(time.Now(), cmds, in, out)
	b.int("total_connections_received", s.Connections.Load())
	b.int("total_commands_processed", cmds)
	b.int("instantaneous_ops_per_sec", m.opsRate)
	b.int("total_net_input_bytes", in)
	b.int("total_net_output_bytes", out)
	b.int("total_net_repl_input_bytes", 0)
	b.int("total_net_repl_output_bytes", 0)
	b.float("instantaneous_input_kbps", m.inKbps)
	b.float("instantaneous_output_kbps", m.outKbps)
	b.float("instantaneous_input_repl_kbps", 0)
	b.float("instantaneous_output_repl_kbps", 0)
	b.int("rejected_connections", e.stats.RejectedConns.Load())
	full, partialOK, partialErr := e.syncStats()
	b.int("sync_full", full)
	b.int("sync_partial_ok", partialOK)
	b.int("sync_partial_err", partialErr)
	b.int("expired_keys", s.ExpiredKeys)
	b.float("expired_stale_perc", 0)
	b.int("expired_time_cap_reached_count", 0)
	b.int("expire_cycle_cpu_milliseconds", 0)
	b.int("evicted_keys", 0)
	b.int("evicted_clients", 0)
	b.int("total_eviction_exceeded_time", 0)
	b.int("current_eviction_exceeded_time", 0)
	b.int("keyspace_hits", s.KeyspaceHits)
	b.int("keyspace_misses", s.KeyspaceMisses)
	b.int("pubsub_channels", int64(len(e.channels)))
	b.int("pubsub_patterns", int64(len(e.patterns)))
	b.int("pubsubshard_channels", 0)
	b.int("latest_fork_usec", 0)
	b.int("total_forks", 0)
	b.int("migrate_cached_sockets", 0)
	b.int("slave_expires_tracked_keys", 0)
	b.int("active_defrag_hits", 0)
	b.int("active_defrag_misses", 0)
	b.int("active_defrag_key_hits", 0)
	b.int("active_defrag_key_misses", 0)
	b.int("total_active_defrag_time", 0)
	b.int("current_active_defrag_time", 0)
	b.int("tracking_total_keys", int64(len(e.trk.table)))
	b.int("tracking_total_items", int64(e.trk.items))
	b.int("tracking_total_prefixes", int64(len(e.trk.prefixes)))
	b.int("unexpected_error_replies", s.UnexpectedError)
	b.int("total_error_replies", s.ErrorReplies)
	b.int("dump_payload_sanitizations", e.srv().sanitizations)
	b.int("total_reads_processed", 0)
	b.int("total_writes_processed", 0)
	b.int("io_threaded_reads_processed", 0)
	b.int("io_threaded_writes_processed", 0)
	b.int("reply_buffer_shrinks", 0)
	b.int("reply_buffer_expands", 0)
}

func infoReplication(e *Engine, b *infoBuf) {
	st := e.srv()
	r := e.replication()
	if e.cfg.Role == "master" {
		b.str("role", "master")
	} else {
		link, io := "down", int64(-1)
		if r.LinkUp {
			link, io = "up", 0
			if !r.LastIO.IsZero() {
				io = max(int64(time.Since(r.LastIO)/time.Second), 0)
			}
		}
		b.str("role", "slave")
		b.str("master_host", r.MasterHost)
		b.int("master_port", int64(r.MasterPort))
		b.str("master_link_status", link)
		b.int("master_last_io_seconds_ago", io)
		b.int("master_sync_in_progress", boolInt(r.SyncInProgress))
		b.int("slave_read_repl_offset", r.Offset)
		b.int("slave_repl_offset", r.Offset)
		if !r.LinkUp {
			down := int64(-1)
			if !r.DownSince.IsZero() {
				down = int64(time.Since(r.DownSince) / time.Second)
			}
			b.int("master_link_down_since_seconds", down)
		}
		b.int("slave_priority", 100)
		b.int("slave_read_only", boolInt(st.settings.replicaReadOnly))
		b.int("replica_announced", 1)
		if r.State != "" {
			b.str("ferry_replica_state", r.State)
		}
		if r.Err != "" {
			// One line: INFO is read line by line.
			b.str("ferry_replica_error", strings.Join(strings.Fields(r.Err), " "))
		}
	}
	off, fs := e.followerState()
	if e.followers != nil {
		r.Offset = int64(off)
	}
	srs := e.syncReplicas()
	b.int("connected_slaves", int64(len(fs)+len(srs)))
	for i, f := range fs {
		host, port, _ := net.SplitHostPort(f.Addr)
		lag := int64(time.Since(f.LastAck).Seconds())
		b.str("slave"+strconv.Itoa(i), "ip="+host+",port="+port+",state=online,offset="+strconv.FormatUint(f.Offset, 10)+",lag="+strconv.FormatInt(lag, 10))
	}
	// Stock Redis replicas fed by SYNC/PSYNC (downstream): their offset is
	// the last log offset they acknowledged, as Redis shows its replicas'
	// acknowledged offsets.
	for i, r := range srs {
		host, port, _ := net.SplitHostPort(r.Addr)
		lag := int64(time.Since(r.LastIO).Seconds())
		b.str("slave"+strconv.Itoa(len(fs)+i), "ip="+host+",port="+port+",state="+r.State+",offset="+strconv.FormatUint(r.Acked, 10)+",lag="+strconv.FormatInt(lag, 10))
	}
	b.str("master_failover_state", "no-failover")
	b.str("master_replid", st.replID)
	b.str("master_replid2", strings.Repeat("0", 40))
	b.int("master_repl_offset", r.Offset)
	b.int("second_repl_offset", -1)
	b.int("repl_backlog_active", 0)
	b.int("repl_backlog_size", 1048576)
	b.int("repl_backlog_first_byte_offset", 0)
	b.int("repl_backlog_histlen", 0)
}

// tv formats a timeval as "%ld.%06ld".
func tv(t syscall.Timeval) string {
	us := strconv.FormatInt(int64(t.Usec), 10)
	return strconv.FormatInt(int64(t.Sec), 10) + "." + strings.Repeat("0", max(0, 6-len(us))) + us
}

func infoCPU(_ *Engine, b *infoBuf) {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	b.str("used_cpu_sys", tv(self.Stime))
	b.str("used_cpu_user", tv(self.Utime))
	b.str("used_cpu_sys_children", tv(children.Stime))
	b.str("used_cpu_user_children", tv(children.Utime))
	// Go has no main thread that does all the work: report the process.
	b.str("used_cpu_sys_main_thread", tv(self.Stime))
	b.str("used_cpu_user_main_thread", tv(self.Utime))
}

func infoKeyspace(e *Engine, b *infoBuf) {
	for i := 0; i < keyspace.NumDBs; i++ {
		db := e.ks.DB(i)
		keys, expires := db.Len(), db.Expires()
		if keys == 0 && expires == 0 {
			continue
		}
		b.str("db"+strconv.Itoa(i), "keys="+strconv.Itoa(keys)+",expires="+strconv.Itoa(expires)+",avg_ttl="+strconv.FormatInt(avgTTL(db), 10))
	}
}

// avgTTL estimates the average time to live (ms) of db's keys with an
// expiry from a sample, as Redis's avg_ttl is an estimate too.
func avgTTL(db *keyspace.DB) int64 {
	if db.Expires() == 0 {
		return 0
	}
	now := db.Keyspace().Now()
	var sum, n int64
	cursor := uint64(0)
	for steps := 0; steps < 64 && n < 128; steps++ {
		cursor = db.Scan(cursor, func(_ string, o *keyspace.Object) {
			if at := o.Expire(); at > now {
				sum += at - now
				n++
			}
		})
		if cursor == 0 {
			break
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}
