// Command lag measures replication lag: the time from a master's reply to a
// write until a replica serves that write, while a steady background load
// of writes runs on the master. It speaks plain RESP, so it measures a ferry
// master/replica pair and a redis-server master/replica pair the same way
// (bench/replication.sh runs it on both).
//
// The load is -rate SET commands per second over -conns connections
// ("SET key:<12 digits, random below -keys> xxx", as redis-benchmark -r
// sends them). Each connection keeps to its schedule: at most every -tick
// (1 ms) it pipelines the commands that are due, then reads their replies,
// so the rate holds even when a round trip takes longer than the gap
// between two commands.
//
// Meanwhile a probe does, every -probe-every: SET lagkey <seq> on the
// master; when the reply arrives, it GETs lagkey from the replica, back to
// back, until the value is at least seq. The lag is the time from the
// master's reply to the replica's reply that shows seq, so its resolution
// is one replica round trip. Probes in the first -warmup are not counted.
//
//	lag -master 127.0.0.1:7000 -replica 127.0.0.1:7001 -rate 40000 -duration 8s
//
// The last line of the output is machine-readable:
//
//	RESULT rate=40000 achieved=39987 probes=3968 lag_p50_us=... lag_p99_us=... ...
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	masterAddr := flag.String("master", "", "master address host:port (required)")
	replicaAddr := flag.String("replica", "", "replica address host:port (required)")
	rate := flag.Float64("rate", 10000, "background SET commands per second on the master (0: no load)")
	conns := flag.Int("conns", 4, "connections carrying the background load")
	keys := flag.Int("keys", 100000, "background keys are key:<n> with n random below this")
	tick := flag.Duration("tick", time.Millisecond, "a load connection sends what is due at most this often")
	duration := flag.Duration("duration", 8*time.Second, "how long to measure (after the warm-up)")
	warmup := flag.Duration("warmup", time.Second, "load and probes before measuring starts")
	every := flag.Duration("probe-every", 2*time.Millisecond, "pause between the end of one probe and the next")
	timeout := flag.Duration("timeout", 10*time.Second, "give up on a probe the replica has not shown after this")
	flag.Parse()
	if *masterAddr == "" || *replicaAddr == "" || *rate < 0 || *conns < 1 || *keys < 1 {
		flag.Usage()
		os.Exit(2)
	}
	res, err := run(*masterAddr, *replicaAddr, *rate, *conns, *keys, *tick, *warmup, *duration, *every, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lag:", err)
		os.Exit(1)
	}
	res.print(*rate)
}

type result struct {
	sent, errors int64         // background commands sent and error replies
	elapsed      time.Duration // of the measured part
	lags, sets   []time.Duration
	rtts         []time.Duration // of the GET that showed the write
	timeouts     int
}

func run(masterAddr, replicaAddr string, rate float64, conns, keys int, tick, warmup, duration, every, timeout time.Duration) (*result, error) {
	pm, err := dial(masterAddr)
	if err != nil {
		return nil, err
	}
	defer pm.close()
	pr, err := dial(replicaAddr)
	if err != nil {
		return nil, err
	}
	defer pr.close()

	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	res := &result{}
	var sent, errs, sentAtMeasure atomic.Int64
	loadErr := make(chan error, conns)
	var wg sync.WaitGroup
	if rate > 0 {
		for i := 0; i < conns; i++ {
			c, err := dial(masterAddr)
			if err != nil {
				return nil, err
			}
			defer c.close()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := load(c, rate/float64(conns), keys, tick, start, end, &sent, &errs); err != nil {
					loadErr <- err
				}
			}()
		}
	}
	go func() {
		time.Sleep(time.Until(measureFrom))
		sentAtMeasure.Store(sent.Load())
	}()

	// The probe.
	var seq int64
	for now := time.Now(); now.Before(end); now = time.Now() {
		select {
		case err := <-loadErr:
			return nil, err
		default:
		}
		seq++
		val := strconv.FormatInt(seq, 10)
		t0 := time.Now()
		if err := pm.send("SET", "lagkey", val); err != nil {
			return nil, err
		}
		if _, err := pm.expect('+'); err != nil {
			return nil, fmt.Errorf("master: SET lagkey: %w", err)
		}
		replied := time.Now()
		var seen, asked time.Time
		for {
			asked = time.Now()
			if err := pr.send("GET", "lagkey"); err != nil {
				return nil, err
			}
			v, err := pr.reply()
			if err != nil {
				return nil, fmt.Errorf("replica: GET lagkey: %w", err)
			}
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n >= seq {
				seen = time.Now()
				break
			}
			if time.Since(replied) > timeout {
				break
			}
		}
		if replied.After(measureFrom) {
			if seen.IsZero() {
				res.timeouts++
			} else {
				res.lags = append(res.lags, seen.Sub(replied))
				res.sets = append(res.sets, replied.Sub(t0))
				res.rtts = append(res.rtts, seen.Sub(asked))
			}
		}
		time.Sleep(every)
	}
	wg.Wait()
	select {
	case err := <-loadErr:
		return nil, err
	default:
	}
	res.elapsed = time.Since(measureFrom)
	res.sent = sent.Load() - sentAtMeasure.Load()
	res.errors = errs.Load()
	return res, nil
}

// load sends SETs on c at perConn commands per second from start until end.
func load(c *conn, perConn float64, keys int, tick time.Duration, start, end time.Time, sent, errs *atomic.Int64) error {
	done := int64(0)
	key := make([]byte, 0, 16)
	const maxBatch = 1000
	for {
		now := time.Now()
		if !now.Before(end) {
			return nil
		}
		due := int64(now.Sub(start).Seconds() * perConn)
		n := min(due-done, maxBatch)
		for i := int64(0); i < n; i++ {
			key = append(key[:0], "key:"...)
			key = appendPadded(key, rand.IntN(keys), 12)
			c.sendBytes([]byte("SET"), key, []byte("xxx"))
		}
		if n > 0 {
			if err := c.w.Flush(); err != nil {
				return err
			}
			for i := int64(0); i < n; i++ {
				if _, err := c.reply(); err != nil {
					var re replyError
					if !errors.As(err, &re) {
						return err
					}
					errs.Add(1)
				}
			}
			done += n
			sent.Add(n)
		}
		// Sleep until the next command is due, at least a tick: commands
		// due meanwhile go out together.
		next := start.Add(time.Duration(float64(done+1) / perConn * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			time.Sleep(max(d, tick))
		}
	}
}

func appendPadded(b []byte, n, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func (r *result) print(rate float64) {
	pct := func(d []time.Duration, p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		i := int(p * float64(len(d)-1))
		return float64(d[i].Nanoseconds()) / 1e3
	}
	slices.Sort(r.lags)
	slices.Sort(r.sets)
	slices.Sort(r.rtts)
	achieved := float64(r.sent) / r.elapsed.Seconds()
	fmt.Printf("load: %.0f SET/s asked, %.0f/s done, %d error replies\n", rate, achieved, r.errors)
	fmt.Printf("lag (master reply -> visible on replica), %d probes, %d timed out: p50 %.0f µs, p90 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs\n",
		len(r.lags), r.timeouts, pct(r.lags, .5), pct(r.lags, .9), pct(r.lags, .99), pct(r.lags, .999), pct(r.lags, 1))
	fmt.Printf("probe SET latency on the master: p50 %.0f µs, p99 %.0f µs; replica GET round trip (the resolution): p50 %.0f µs\n", pct(r.sets, .5), pct(r.sets, .99), pct(r.rtts, .5))
	fmt.Printf("RESULT rate=%.0f achieved=%.0f errors=%d probes=%d timeouts=%d lag_p50_us=%.0f lag_p90_us=%.0f lag_p99_us=%.0f lag_p999_us=%.0f lag_max_us=%.0f set_p50_us=%.0f set_p99_us=%.0f get_rtt_p50_us=%.0f\n",
		rate, achieved, r.errors, len(r.lags), r.timeouts, pct(r.lags, .5), pct(r.lags, .9), pct(r.lags, .99), pct(r.lags, .999), pct(r.lags, 1), pct(r.sets, .5), pct(r.sets, .99), pct(r.rtts, .5))
}

// conn is a minimal RESP client connection.
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
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 64<<10)}, nil
}

func (c *conn) close() { c.nc.Close() }

// sendBytes buffers one command.
func (c *conn) sendBytes(args ...[]byte) {
	c.w.WriteByte('*')
	c.w.WriteString(strconv.Itoa(len(args)))
	c.w.WriteString("\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.w.WriteString(strconv.Itoa(len(a)))
		c.w.WriteString("\r\n")
		c.w.Write(a)
		c.w.WriteString("\r\n")
	}
}

// send writes one command and flushes.
func (c *conn) send(args ...string) error {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	c.sendBytes(b...)
	return c.w.Flush()
}

type replyError string

func (e replyError) Error() string { return string(e) }

// reply reads one reply and returns its payload: the text of a simple
// string or integer, a bulk string (nil for a null one). An error reply is
// a replyError. Arrays are not expected here.
func (c *conn) reply() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 {
		return nil, fmt.Errorf("short reply %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return nil, replyError(body)
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return nil, fmt.Errorf("bad bulk length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// expect reads one reply and fails unless it is of type t.
func (c *conn) expect(t byte) ([]byte, error) {
	b, err := c.r.Peek(1)
	if err != nil {
		return nil, err
	}
	if b[0] != t {
		v, err := c.reply()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("unexpected reply %q", v)
	}
	return c.reply()
}
