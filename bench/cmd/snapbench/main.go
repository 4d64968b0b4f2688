// Command snapbench is the client side of bench/snapshot.sh: it loads the
// mixed dataset, drives and times SET load with per-request latency, samples
// the memory of server processes, triggers snapshots and waits for replicas.
// It speaks plain RESP and INFO, so it works against ferry and redis-server
// alike.
//
//	snapbench load -addr A -n 1000000            load the mixed dataset
//	snapbench set -addr A -keys N -seconds 8     SET load: rps and latency percentiles
//	          [-bgsave [-bgsave-addr host:port]] [-pids 1,2] [-timeline 100ms]
//	snapbench save -addr A                       BGSAVE and wait for it to end
//	snapbench wait -addr R -master M -key K -since NS   wait until a replica serves and is caught up
//
// Every subcommand ends its output with one line "RESULT k=v k=v ...".
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrydb/ferry/internal/resp"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: snapbench load|set|save|wait [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "load":
		err = cmdLoad(os.Args[2:])
	case "set":
		err = cmdSet(os.Args[2:])
	case "save":
		err = cmdSave(os.Args[2:])
	case "wait":
		err = cmdWait(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "snapbench:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- dataset

// The dataset: key i is "key:<i>"; its type is chosen by i mod 20: 14 of 20
// strings of 100 bytes (70%), 2 hashes (10%), 2 lists (10%), 1 set (5%),
// 1 sorted set (5%), each collection with 10 elements. Contents come from a
// PRNG seeded by i, so every server gets the same bytes.
const (
	valueSize = 100
	elements  = 10
)

// isString reports whether key i is a string key.
func isString(i int) bool { return i%20 < 14 }

// stringIndex maps k in [0, nstrings(n)) to the k-th string key's index.
func stringIndex(k int) int { return k/14*20 + k%14 }

// nstrings is the number of string keys among the first n.
func nstrings(n int) int { return n/20*14 + min(n%20, 14) }

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// tokenWords makes a string value's random token text: words of the lists
// below drawn at random, a space after each (SNAP_TOKEN=words, the
// default: the data is then as compressible as the issue's, whose
// reference, redis's dump through zstd -3, measured 0.32x; here 0.33x).
// Otherwise tokenChars are the token's characters: alphanumerics
// (SNAP_TOKEN=alnum: about 6 bits of entropy per byte, half of each value
// incompressible) or lowercase hex digits (SNAP_TOKEN=hex: 4 bits, as in
// the hashes, UUIDs and session ids real values carry). Hash fields'
// random references stay alphanumeric either way.
var (
	tokenChars = alnum
	tokenWords = true
)

func init() {
	switch t := os.Getenv("SNAP_TOKEN"); t {
	case "", "words":
	case "alnum":
		tokenWords = false
	case "hex":
		tokenChars, tokenWords = "0123456789abcdef", false
	default:
		fmt.Fprintf(os.Stderr, "snapbench: SNAP_TOKEN=%q: want alnum, hex or words\n", t)
		os.Exit(2)
	}
}

var (
	words  = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"}
	cities = []string{"Berlin", "Paris", "Lisbon", "Oslo", "Madrid", "Rome", "Vienna", "Prague", "Dublin", "Athens"}
	fields = []string{"name", "email", "age", "city", "plan", "created", "visits", "score", "status", "ref"}
)

// appendValue appends a 100-byte string value: a small JSON record (id,
// user, score, flag) whose "token" field fills the rest with random
// tokenChars, so about half of it is incompressible (or with words).
func appendValue(b []byte, id int, r *rand.Rand) []byte {
	start := len(b)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"user":"`...)
	b = append(b, words[r.IntN(len(words))]...)
	b = strconv.AppendInt(b, int64(r.IntN(100000)), 10)
	b = append(b, `","score":`...)
	b = strconv.AppendInt(b, int64(r.IntN(1000000)), 10)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, r.IntN(2) == 0)
	b = append(b, `,"token":"`...)
	for len(b)-start < valueSize-2 {
		if !tokenWords {
			b = append(b, tokenChars[r.IntN(len(tokenChars))])
			continue
		}
		var w string
		switch n := r.IntN(len(words) + len(cities) + len(fields)); {
		case n < len(words):
			w = words[n]
		case n < len(words)+len(cities):
			w = cities[n-len(words)]
		default:
			w = fields[n-len(words)-len(cities)]
		}
		b = append(b, w...)
		b = append(b, ' ')
	}
	b = b[:start+valueSize-2]
	return append(b, '"', '}')
}

// appendKey appends "key:<i>".
func appendKey(b []byte, i int) []byte {
	return strconv.AppendInt(append(b, "key:"...), int64(i), 10)
}

// appendLoadCommand appends the command that creates key i.
func appendLoadCommand(b []byte, i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	var args [][]byte
	key := appendKey(nil, i)
	switch k := i % 20; {
	case k < 14:
		args = [][]byte{[]byte("SET"), key, appendValue(nil, i, r)}
	case k < 16:
		args = [][]byte{[]byte("HSET"), key}
		for j, f := range fields {
			var v []byte
			switch j {
			case 0:
				v = fmt.Appendf(nil, "%s %s", words[r.IntN(len(words))], words[r.IntN(len(words))])
			case 1:
				v = fmt.Appendf(nil, "%s%d@example.com", words[r.IntN(len(words))], r.IntN(100000))
			case 3:
				v = []byte(cities[r.IntN(len(cities))])
			case 4:
				v = []byte([]string{"free", "pro", "team"}[r.IntN(3)])
			case 5:
				v = strconv.AppendInt(nil, 1700000000+int64(r.IntN(50000000)), 10)
			case 8:
				v = []byte([]string{"active", "idle", "banned"}[r.IntN(3)])
			case 9:
				for range 12 {
					v = append(v, alnum[r.IntN(len(alnum))])
				}
			default:
				v = strconv.AppendInt(nil, int64(r.IntN(10000)), 10)
			}
			args = append(args, []byte(f), v)
		}
	case k < 18:
		args = [][]byte{[]byte("RPUSH"), key}
		for range elements {
			args = append(args, fmt.Appendf(nil, "event:%s:%d", words[r.IntN(len(words))], r.IntN(1000000)))
		}
	case k < 19:
		args = [][]byte{[]byte("SADD"), key}
		for j := range elements {
			args = append(args, fmt.Appendf(nil, "tag:%s%d", words[r.IntN(len(words))], j*1000+r.IntN(1000)))
		}
	default:
		args = [][]byte{[]byte("ZADD"), key}
		for j := range elements {
			args = append(args, strconv.AppendInt(nil, int64(r.IntN(100000)), 10),
				fmt.Appendf(nil, "player:%d", j*100000+r.IntN(100000)))
		}
	}
	return resp.AppendCommand(b, args...)
}

// ---------------------------------------------------------------- RESP

// conn is a RESP connection.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func dial(addr string) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 256<<10)}, nil
}

// reply is one RESP reply: its type byte and, for simple strings, errors,
// integers and bulk strings, its payload (nil for a null).
type reply struct {
	kind byte
	data []byte
}

func (r reply) err() error {
	if r.kind == '-' {
		return errors.New(string(r.data))
	}
	return nil
}

// read reads one reply (arrays are read and dropped).
func (c *conn) read() (reply, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return reply{}, err
	}
	if len(line) < 3 {
		return reply{}, fmt.Errorf("short reply %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-', ':':
		return reply{kind, append([]byte(nil), body...)}, nil
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return reply{}, fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return reply{kind: '$'}, nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(c.r, buf); err != nil {
			return reply{}, err
		}
		return reply{'$', buf[:n]}, nil
	case '*':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return reply{}, fmt.Errorf("bad array length %q", line)
		}
		for range n {
			if _, err := c.read(); err != nil {
				return reply{}, err
			}
		}
		return reply{kind: '*'}, nil
	}
	return reply{}, fmt.Errorf("unexpected reply %q", line)
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// do sends one command and reads its reply.
func (c *conn) do(args ...string) (reply, error) {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	if _, err := c.w.Write(resp.AppendCommand(nil, bs...)); err != nil {
		return reply{}, err
	}
	if err := c.w.Flush(); err != nil {
		return reply{}, err
	}
	return c.read()
}

// info returns the fields of INFO section.
func (c *conn) info(section string) (map[string]string, error) {
	r, err := c.do("INFO", section)
	if err != nil {
		return nil, err
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(r.data), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

func result(kv ...any) {
	var b strings.Builder
	b.WriteString("RESULT")
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	fmt.Println(b.String())
}

// ---------------------------------------------------------------- load

func cmdLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	addr := fs.String("addr", "", "server host:port")
	n := fs.Int("n", 1000000, "keys")
	conns := fs.Int("conns", 4, "connections, each loading a share of the keys")
	batch := fs.Int("batch", 500, "commands per pipelined batch")
	fs.Parse(args)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, *conns)
	for c := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[c] = loadRange(*addr, c**n / *conns, (c+1)**n / *conns, *batch)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c, err := dial(*addr)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	r, err := c.do("DBSIZE")
	if err != nil {
		return err
	}
	if got, _ := strconv.Atoi(string(r.data)); r.kind != ':' || got != *n {
		return fmt.Errorf("DBSIZE %q after loading %d keys", r.data, *n)
	}
	d := time.Since(start)
	fmt.Printf("loaded %d keys in %.1fs (%.0f keys/s)\n", *n, d.Seconds(), float64(*n)/d.Seconds())
	result("keys", *n, "seconds", fmt.Sprintf("%.2f", d.Seconds()))
	return nil
}

func loadRange(addr string, from, to, batch int) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	var buf []byte
	for i := from; i < to; i += batch {
		end := min(i+batch, to)
		buf = buf[:0]
		for j := i; j < end; j++ {
			buf = appendLoadCommand(buf, j)
		}
		if _, err := c.w.Write(buf); err != nil {
			return err
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		for j := i; j < end; j++ {
			r, err := c.read()
			if err != nil {
				return fmt.Errorf("key %d: %w", j, err)
			}
			if r.kind == '-' {
				return fmt.Errorf("key %d: %s", j, r.data)
			}
			if want := byte('+'); isString(j) && (r.kind != want || string(r.data) != "OK") ||
				!isString(j) && (r.kind != ':' || string(r.data) != strconv.Itoa(elements)) {
				return fmt.Errorf("key %d: unexpected reply %c%s", j, r.kind, r.data)
			}
		}
	}
	return nil
}

// ---------------------------------------------------------------- set

// cmdSet runs closed-loop SET load (one request in flight per connection)
// on random string keys of the dataset with fresh 100-byte values, so the
// dataset keeps its shape and size, and records every request's latency.
// With -bgsave it keeps a snapshot running (BGSAVE whenever none is in
// progress), on -bgsave-addr if set (a replica taking the snapshots); with -pids it samples the memory of those processes and their
// children every 10 ms.
func cmdSet(args []string) error {
	fs := flag.NewFlagSet("set", flag.ExitOnError)
	addr := fs.String("addr", "", "server host:port")
	keys := fs.Int("keys", 1000000, "keys in the dataset (SETs go to its string keys)")
	conns := fs.Int("conns", 50, "connections, one request in flight each")
	seconds := fs.Float64("seconds", 8, "how long to run")
	bgsave := fs.Bool("bgsave", false, "keep a BGSAVE running through the run")
	bgsaveAddr := fs.String("bgsave-addr", "", "with -bgsave: the node that takes the snapshots, say a replica with --take-snapshots (empty: -addr)")
	pids := fs.String("pids", "", "comma-separated pids whose memory (with their children's) to sample every 10 ms")
	timeline := fs.Duration("timeline", 0, "also print the SETs done per interval of this length")
	gap := fs.Duration("gap", 0, "a light load: each connection waits about this long (0.5-1.5x, at random) after each reply (0: none)")
	stopFile := fs.String("stopfile", "", "end the run early once this file exists")
	fs.Parse(args)
	ns := nstrings(*keys)
	if ns == 0 {
		return errors.New("no string keys")
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	lat := make([][]int32, *conns)
	var bucketsMu sync.Mutex
	var buckets []int64
	start := time.Now()
	deadline := start.Add(time.Duration(*seconds * float64(time.Second)))
	errs := make([]error, *conns)
	for ci := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(*addr)
			if err != nil {
				errs[ci] = err
				return
			}
			defer c.nc.Close()
			r := rand.New(rand.NewPCG(uint64(ci), uint64(time.Now().UnixNano())))
			local := make([]int32, 0, 1<<16)
			var cmd, key, val []byte
			var mine []int64
			for !stop.Load() {
				i := stringIndex(r.IntN(ns))
				key = appendKey(key[:0], i)
				val = appendValue(val[:0], i, r)
				cmd = resp.AppendCommand(cmd[:0], []byte("SET"), key, val)
				t0 := time.Now()
				if _, err := c.w.Write(cmd); err != nil {
					errs[ci] = err
					return
				}
				if err := c.w.Flush(); err != nil {
					errs[ci] = err
					return
				}
				rep, err := c.read()
				if err != nil {
					errs[ci] = err
					return
				}
				t1 := time.Now()
				if rep.kind != '+' {
					errs[ci] = fmt.Errorf("SET: %c%s", rep.kind, rep.data)
					return
				}
				local = append(local, int32(t1.Sub(t0)/time.Microsecond))
				if *timeline > 0 {
					b := int(t1.Sub(start) / *timeline)
					for len(mine) <= b {
						mine = append(mine, 0)
					}
					mine[b]++
				}
				if t1.After(deadline) {
					break
				}
				if *gap > 0 {
					time.Sleep(*gap/2 + time.Duration(r.Int64N(int64(*gap))))
				}
			}
			lat[ci] = local
			if *timeline > 0 {
				bucketsMu.Lock()
				for len(buckets) < len(mine) {
					buckets = append(buckets, 0)
				}
				for b, v := range mine {
					buckets[b] += v
				}
				bucketsMu.Unlock()
			}
		}()
	}

	// Snapshots kept running.
	saves := 0
	var inProgress, polls int
	saveDone := make(chan error, 1)
	if *bgsaveAddr == "" {
		*bgsaveAddr = *addr
	}
	if *bgsave {
		go func() {
			c, err := dial(*bgsaveAddr)
			if err != nil {
				saveDone <- err
				return
			}
			defer c.nc.Close()
			for !stop.Load() && time.Now().Before(deadline) {
				m, err := c.info("persistence")
				if err != nil {
					saveDone <- err
					return
				}
				polls++
				if m["rdb_bgsave_in_progress"] == "1" {
					inProgress++
				} else {
					r, err := c.do("BGSAVE")
					if err != nil {
						saveDone <- err
						return
					}
					if r.kind == '+' {
						saves++
						inProgress++
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
			saveDone <- nil
		}()
	}

	// Memory samples.
	var peakRSS, peakPSS, sumRSS, samples int64
	var maxProcs int
	memDone := make(chan struct{})
	if *pids != "" {
		var roots []int
		for _, p := range strings.Split(*pids, ",") {
			if v, err := strconv.Atoi(p); err == nil {
				roots = append(roots, v)
			}
		}
		go func() {
			defer close(memDone)
			for !stop.Load() && time.Now().Before(deadline) {
				procs := withChildren(roots)
				var rss, pss int64
				for _, p := range procs {
					rss += statusKB(p, "VmRSS:")
					pss += rollupKB(p, "Pss:")
				}
				maxProcs = max(maxProcs, len(procs))
				peakRSS, peakPSS = max(peakRSS, rss), max(peakPSS, pss)
				sumRSS += rss
				samples++
				time.Sleep(10 * time.Millisecond)
			}
		}()
	} else {
		close(memDone)
	}

	for time.Now().Before(deadline) {
		if *stopFile != "" {
			if _, err := os.Stat(*stopFile); err == nil {
				break
			}
		}
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
	}
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	<-memDone
	if *bgsave {
		if err := <-saveDone; err != nil {
			return fmt.Errorf("bgsave loop: %w", err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var all []int32
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) int32 {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	if *timeline > 0 {
		var b strings.Builder
		for _, v := range buckets {
			fmt.Fprintf(&b, "%d ", v)
		}
		fmt.Println("TIMELINE", timeline.Milliseconds(), strings.TrimSpace(b.String()))
	}
	kv := []any{"start_ns", start.UnixNano(), "ops", len(all), "seconds", fmt.Sprintf("%.2f", elapsed.Seconds()),
		"rps", fmt.Sprintf("%.0f", float64(len(all))/elapsed.Seconds()),
		"p50_us", pct(0.50), "p99_us", pct(0.99), "p999_us", pct(0.999), "max_us", pct(1)}
	if *bgsave {
		frac := 0.0
		if polls > 0 {
			frac = float64(inProgress) / float64(polls)
		}
		kv = append(kv, "bgsaves", saves, "in_progress", fmt.Sprintf("%.2f", frac))
	}
	if *pids != "" && samples > 0 {
		kv = append(kv, "peak_rss_kb", peakRSS, "peak_pss_kb", peakPSS, "mean_rss_kb", sumRSS/samples,
			"samples", samples, "max_procs", maxProcs)
	}
	result(kv...)
	return nil
}

// withChildren returns pids and all their descendants.
func withChildren(pids []int) []int {
	out := slices.Clone(pids)
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if v, err := strconv.Atoi(f); err == nil && !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// statusKB reads field (e.g. "VmRSS:") of /proc/PID/status in kB; 0 if gone.
func statusKB(pid int, field string) int64 {
	return fieldKB(fmt.Sprintf("/proc/%d/status", pid), field)
}

// rollupKB reads field of /proc/PID/smaps_rollup in kB; 0 if gone.
func rollupKB(pid int, field string) int64 {
	return fieldKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), field)
}

func fieldKB(path, field string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := strings.Fields(string(rest))
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// ---------------------------------------------------------------- save

// cmdSave starts a BGSAVE and waits until none is in progress and
// rdb_saves moved (or rdb_last_bgsave_status turned to err).
func cmdSave(args []string) error {
	fs := flag.NewFlagSet("save", flag.ExitOnError)
	addr := fs.String("addr", "", "server host:port")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Parse(args)
	c, err := dial(*addr)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	before, err := c.info("persistence")
	if err != nil {
		return err
	}
	for before["rdb_bgsave_in_progress"] == "1" {
		time.Sleep(20 * time.Millisecond)
		if before, err = c.info("persistence"); err != nil {
			return err
		}
	}
	start := time.Now()
	r, err := c.do("BGSAVE")
	if err != nil {
		return err
	}
	if err := r.err(); err != nil {
		return fmt.Errorf("BGSAVE: %w", err)
	}
	for {
		time.Sleep(5 * time.Millisecond)
		m, err := c.info("persistence")
		if err != nil {
			return err
		}
		if m["rdb_bgsave_in_progress"] != "0" {
			continue
		}
		if m["rdb_saves"] != before["rdb_saves"] {
			result("seconds", fmt.Sprintf("%.3f", time.Since(start).Seconds()), "last_bgsave_time_sec", m["rdb_last_bgsave_time_sec"],
				"last_cow_size", m["rdb_last_cow_size"])
			return nil
		}
		if m["rdb_last_bgsave_status"] == "err" && before["rdb_last_bgsave_status"] != "err" {
			return errors.New("BGSAVE failed (rdb_last_bgsave_status:err)")
		}
		if time.Since(start) > *timeout {
			return fmt.Errorf("no snapshot after %v", *timeout)
		}
	}
}

// ---------------------------------------------------------------- wait

// cmdWait waits until the replica at -addr answers GET -key with a value
// and its offset reached the master's, then prints the seconds since
// -since (unix nanoseconds, taken by the caller before starting the
// replica).
func cmdWait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	addr := fs.String("addr", "", "replica host:port")
	master := fs.String("master", "", "master host:port")
	key := fs.String("key", "key:0", "a key that exists")
	since := fs.Int64("since", 0, "unix nanoseconds the replica was started at (default: now)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	every := fs.Duration("every", 5*time.Millisecond, "poll interval")
	offsets := fs.Bool("offsets", true, "also wait for the replica's offset to reach the master's (false: link up and not syncing is enough)")
	fs.Parse(args)
	t0 := time.Now()
	if *since > 0 {
		t0 = time.Unix(0, *since)
	}
	mc, err := dial(*master)
	if err != nil {
		return err
	}
	defer mc.nc.Close()
	var rc *conn
	var firstGet time.Duration
	var last string
	for {
		if time.Since(t0) > *timeout {
			return fmt.Errorf("replica %s not caught up after %v (last: %s)", *addr, *timeout, last)
		}
		if rc == nil {
			if rc, err = dial(*addr); err != nil {
				rc = nil
				last = err.Error()
				time.Sleep(*every)
				continue
			}
			defer rc.nc.Close()
		}
		r, err := rc.do("GET", *key)
		if err != nil {
			return err
		}
		if r.kind != '$' || r.data == nil {
			last = fmt.Sprintf("GET: %c%s", r.kind, r.data)
			time.Sleep(*every)
			continue
		}
		if firstGet == 0 {
			firstGet = time.Since(t0)
		}
		mi, err := mc.info("replication")
		if err != nil {
			return err
		}
		ri, err := rc.info("replication")
		if err != nil {
			return err
		}
		mo, _ := strconv.ParseInt(mi["master_repl_offset"], 10, 64)
		ro, _ := strconv.ParseInt(ri["slave_repl_offset"], 10, 64)
		last = fmt.Sprintf("master offset %d, replica %d, link %s, sync %s", mo, ro, ri["master_link_status"], ri["master_sync_in_progress"])
		if (ro >= mo || !*offsets) && ri["master_link_status"] == "up" && ri["master_sync_in_progress"] == "0" {
			result("seconds", fmt.Sprintf("%.3f", time.Since(t0).Seconds()),
				"first_get", fmt.Sprintf("%.3f", firstGet.Seconds()), "offset", ro)
			return nil
		}
		time.Sleep(*every)
	}
}
