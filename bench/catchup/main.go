// Command catchup measures how fast a ferry replica replays its log, for
// bench/replication.sh. Subcommands:
//
//	catchup fill   -nats URL -dataset D -n 1000000   append n entries to the log
//	catchup read   -nats URL -dataset D              read the whole log, applying nothing
//	catchup replay -nats URL -dataset D              replay it in an in-process replica
//	catchup wait   -addr HOST:PORT -offset N          wait until a server's INFO shows offset N
//	catchup sync   -master HOST:PORT -replica HOST:PORT
//	                                                 wait until a replica reaches its master's offset
//
// fill appends each entry on its own, pipelined through stream/jetstream's
// AppendAsync, so the log holds n messages of -per-entry effects each (1 by
// default): "SET key:<12 digits> xxx" in RESP, keys cycling below -keys
// (what a master publishes for redis-benchmark -t set -r 100000 when no two
// commands share an entry, the worst case for a replica). read times stream/jetstream's Read
// from the first entry to the last, replay times replica.Replica from Serve
// until its applied offset is the log's last. wait and sync speak RESP and
// read INFO replication (slave_repl_offset, master_repl_offset), so they
// work on ferry and redis-server alike.
//
// Every subcommand prints a last line "RESULT key=value ...".
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "fill":
		err = runFill(os.Args[2:])
	case "read":
		err = runRead(os.Args[2:])
	case "replay":
		err = runReplay(os.Args[2:])
	case "wait":
		err = runWait(os.Args[2:])
	case "sync":
		err = runSync(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "catchup:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: catchup fill|read|replay|wait|sync [flags]  (catchup CMD -h for flags)")
	os.Exit(2)
}

// logFlags are the flags that say where the log is.
type logFlags struct{ url, dataset string }

func addLogFlags(fs *flag.FlagSet) *logFlags {
	l := &logFlags{}
	fs.StringVar(&l.url, "nats", "", "NATS server URL (required)")
	fs.StringVar(&l.dataset, "dataset", "catchup", "dataset: stream FERRY_<DATASET>")
	return l
}

func (l *logFlags) open(ctx context.Context, readOnly bool) (*jetstream.Log, error) {
	if l.url == "" {
		return nil, errors.New("no -nats URL")
	}
	return jetstream.Open(ctx, jetstream.Config{URL: l.url, Dataset: l.dataset, ReadOnly: readOnly, Name: "ferry-catchup"})
}

func runFill(args []string) error {
	fs := flag.NewFlagSet("catchup fill", flag.ExitOnError)
	lf := addLogFlags(fs)
	n := fs.Int("n", 1000000, "entries to append")
	keys := fs.Int("keys", 100000, "keys are key:<i mod keys>")
	per := fs.Int("per-entry", 1, "SET effects in each entry (a master's group commit puts several in one)")
	fs.Parse(args)
	if *n < 1 || *keys < 1 || *per < 1 {
		return errors.New("-n, -keys and -per-entry must be positive")
	}
	ctx := context.Background()
	lg, err := lf.open(ctx, false)
	if err != nil {
		return err
	}
	defer lg.Close()
	last, err := lg.Last(ctx)
	if err != nil {
		return err
	}
	// Confirmations are awaited in order by a second goroutine, so that
	// sending never waits for a round trip.
	pend := make(chan stream.Pending, 16384)
	errc := make(chan error, 1)
	go func() {
		var first error
		for p := range pend {
			if _, err := p.Offset(); err != nil && first == nil {
				first = err
			}
		}
		errc <- first
	}()
	start := time.Now()
	var total int64
	for i := 0; i < *n; i++ {
		var data []byte
		for j := 0; j < *per; j++ {
			data = setEffect(data, (i**per+j)%*keys)
		}
		total += int64(len(data))
		p, err := lg.AppendAsync(data, last+uint64(i))
		if err != nil {
			close(pend)
			<-errc
			return fmt.Errorf("append %d: %w", last+uint64(i)+1, err)
		}
		pend <- p
	}
	close(pend)
	if err := <-errc; err != nil {
		return err
	}
	d := time.Since(start)
	end, err := lg.Last(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("fill: %d entries of %d effects (%d bytes) at offsets %d-%d in %.2fs: %.0f entries/s\n", *n, *per, total, last+1, end, d.Seconds(), float64(*n)/d.Seconds())
	fmt.Printf("RESULT entries=%d effects=%d bytes=%d last=%d seconds=%.3f rate=%.0f\n", *n, *n**per, total, end, d.Seconds(), float64(*n)/d.Seconds())
	return nil
}

// setEffect appends "SET key:<i, 12 digits> xxx" in RESP.
func setEffect(b []byte, i int) []byte {
	b = append(b, "*3\r\n$3\r\nSET\r\n$16\r\nkey:"...)
	s := strconv.Itoa(i)
	for j := len(s); j < 12; j++ {
		b = append(b, '0')
	}
	b = append(b, s...)
	return append(b, "\r\n$3\r\nxxx\r\n"...)
}

func runRead(args []string) error {
	fs := flag.NewFlagSet("catchup read", flag.ExitOnError)
	lf := addLogFlags(fs)
	fs.Parse(args)
	ctx := context.Background()
	lg, err := lf.open(ctx, true)
	if err != nil {
		return err
	}
	defer lg.Close()
	first, err := lg.First(ctx)
	if err != nil {
		return err
	}
	last, err := lg.Last(ctx)
	if err != nil {
		return err
	}
	if last < first {
		return errors.New("the log is empty")
	}
	var n, bytes int64
	errDone := errors.New("done")
	start := time.Now()
	err = lg.Read(ctx, first, func(en stream.Entry) error {
		n++
		bytes += int64(len(en.Data))
		if en.Offset >= last {
			return errDone
		}
		return nil
	})
	d := time.Since(start)
	if !errors.Is(err, errDone) {
		return err
	}
	fmt.Printf("read: %d entries (%d bytes) in %.2fs: %.0f entries/s, %.1f MB/s\n", n, bytes, d.Seconds(), float64(n)/d.Seconds(), float64(bytes)/d.Seconds()/1e6)
	fmt.Printf("RESULT entries=%d bytes=%d seconds=%.3f rate=%.0f\n", n, bytes, d.Seconds(), float64(n)/d.Seconds())
	return nil
}

func runReplay(args []string) error {
	fs := flag.NewFlagSet("catchup replay", flag.ExitOnError)
	lf := addLogFlags(fs)
	cpu := fs.String("cpuprofile", "", "write a CPU profile of the replay to this file")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Parse(args)
	ctx := context.Background()
	lg, err := lf.open(ctx, true)
	if err != nil {
		return err
	}
	defer lg.Close()
	first, err := lg.First(ctx)
	if err != nil {
		return err
	}
	last, err := lg.Last(ctx)
	if err != nil {
		return err
	}
	r, err := replica.New(replica.Config{Addr: "127.0.0.1:0", Log: lg, Dataset: lf.dataset, ServeStaleData: true})
	if err != nil {
		return err
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	start := time.Now()
	served := make(chan error, 1)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { served <- r.Serve(sctx) }()
	var off uint64
	var state replica.State
	for {
		var rerr error
		state, off, rerr = r.Status()
		if off >= last {
			break
		}
		if rerr != nil {
			return fmt.Errorf("replica %s at offset %d: %w", state, off, rerr)
		}
		if time.Since(start) > *timeout {
			return fmt.Errorf("replica at offset %d of %d after %v", off, last, *timeout)
		}
		time.Sleep(time.Millisecond)
	}
	d := time.Since(start)
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	e := r.Engine()
	e.Lock()
	keys := e.Keyspace().DB(0).Len()
	e.Unlock()
	cancel()
	<-served
	n := last - first + 1
	fmt.Printf("replay: %d entries applied by an in-process replica in %.2fs: %.0f entries/s (%d keys, state %s)\n", n, d.Seconds(), float64(n)/d.Seconds(), keys, state)
	fmt.Printf("RESULT entries=%d seconds=%.3f rate=%.0f keys=%d\n", n, d.Seconds(), float64(n)/d.Seconds(), keys)
	return nil
}

func runWait(args []string) error {
	fs := flag.NewFlagSet("catchup wait", flag.ExitOnError)
	addr := fs.String("addr", "", "server address host:port (required)")
	offset := fs.Uint64("offset", 0, "offset to wait for")
	since := fs.Int64("since", 0, "measure from this time, Unix nanoseconds (0: now)")
	every := fs.Duration("every", 2*time.Millisecond, "polling interval")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Parse(args)
	start := time.Now()
	if *since != 0 {
		start = time.Unix(0, *since)
	}
	deadline := time.Now().Add(*timeout)
	var c *conn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	for {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not reach offset %d within %v", *addr, *offset, *timeout)
		}
		if c == nil {
			c, _ = dial(*addr)
		}
		if c != nil {
			off, err := c.replOffset("slave_repl_offset")
			if err != nil && !errors.As(err, new(replyError)) {
				c.close()
				c = nil
			}
			if err == nil && off >= *offset {
				break
			}
		}
		time.Sleep(*every)
	}
	d := time.Since(start)
	fmt.Printf("wait: %s reached offset %d after %.3fs\n", *addr, *offset, d.Seconds())
	fmt.Printf("RESULT offset=%d seconds=%.3f\n", *offset, d.Seconds())
	return nil
}

func runSync(args []string) error {
	fs := flag.NewFlagSet("catchup sync", flag.ExitOnError)
	masterAddr := fs.String("master", "", "master address host:port (required)")
	replicaAddr := fs.String("replica", "", "replica address host:port (required)")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	fs.Parse(args)
	start := time.Now()
	m, err := dial(*masterAddr)
	if err != nil {
		return err
	}
	defer m.close()
	r, err := dial(*replicaAddr)
	if err != nil {
		return err
	}
	defer r.close()
	// Done when the replica has reached the master's offset and the master
	// has not moved meanwhile (an asynchronous master may still be sending
	// entries it has already acknowledged).
	var want uint64
	for {
		w, err := m.replOffset("master_repl_offset")
		if err != nil {
			return fmt.Errorf("master: %w", err)
		}
		if w == want && want > 0 {
			break
		}
		want = w
		for {
			have, err := r.replOffset("slave_repl_offset")
			if err != nil {
				return fmt.Errorf("replica: %w", err)
			}
			if have >= want {
				break
			}
			if time.Since(start) > *timeout {
				return fmt.Errorf("replica at offset %d, master at %d after %v", have, want, *timeout)
			}
			time.Sleep(time.Millisecond)
		}
		if want == 0 {
			break
		}
	}
	d := time.Since(start)
	fmt.Printf("RESULT offset=%d seconds=%.3f\n", want, d.Seconds())
	return nil
}

// conn is a minimal RESP client connection.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
}

func dial(addr string) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, r: bufio.NewReader(nc)}, nil
}

func (c *conn) close() { c.nc.Close() }

type replyError string

func (e replyError) Error() string { return string(e) }

// replOffset sends INFO replication and returns the value of field.
func (c *conn) replOffset(field string) (uint64, error) {
	if _, err := c.nc.Write([]byte("*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n")); err != nil {
		return 0, err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	switch {
	case strings.HasPrefix(line, "-"):
		return 0, replyError(strings.TrimSpace(line[1:]))
	case !strings.HasPrefix(line, "$"):
		return 0, fmt.Errorf("unexpected reply %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("unexpected reply %q", line)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(buf[:n]), "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.ParseUint(v, 10, 64)
		}
	}
	return 0, replyError("INFO replication has no " + field)
}
