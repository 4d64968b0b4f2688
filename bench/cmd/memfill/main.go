// Command memfill loads exactly n distinct small string keys into a RESP
// server over one pipelined connection, the same way for every server, so
// that bench/memory.sh can compare their memory use.
//
// Keys are "key:<i>" for i in [0, n); values are "v" followed by
// i + round*n zero-padded to -valsize bytes (never an integer, so Redis
// stores them as embstr strings). Every reply is checked to be +OK. A second
// run with -round 1 overwrites every key with a new value of the same size.
//
//	memfill -addr 127.0.0.1:7000 -n 1000000 -valsize 10
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/ferrydb/ferry/internal/resp"
)

func main() {
	addr := flag.String("addr", "", "server address host:port (required)")
	n := flag.Int("n", 1000000, "number of keys to write")
	valsize := flag.Int("valsize", 10, "value length in bytes (at least 8)")
	batch := flag.Int("batch", 1000, "commands per pipelined batch")
	round := flag.Int("round", 0, "values are derived from i + round*n")
	flag.Parse()
	if *addr == "" || *n < 0 || *valsize < 8 || *batch < 1 || *round < 0 {
		flag.Usage()
		os.Exit(2)
	}
	start := time.Now()
	if err := fill(*addr, *n, *valsize, *batch, *round); err != nil {
		fmt.Fprintln(os.Stderr, "memfill:", err)
		os.Exit(1)
	}
	d := time.Since(start)
	fmt.Printf("memfill: %d keys in %.2fs (%.0f keys/s)\n", *n, d.Seconds(), float64(*n)/d.Seconds())
}

// fill writes n SET commands in batches and checks every reply.
func fill(addr string, n, valsize, batch, round int) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	w := bufio.NewWriterSize(nc, 256*1024)
	r := bufio.NewReaderSize(nc, 64*1024)
	var key, val, cmd []byte
	for i := 0; i < n; i += batch {
		end := min(i+batch, n)
		for j := i; j < end; j++ {
			key = strconv.AppendInt(append(key[:0], "key:"...), int64(j), 10)
			val = appendValue(val[:0], j+round*n, valsize)
			cmd = resp.AppendCommand(cmd[:0], []byte("SET"), key, val)
			if _, err := w.Write(cmd); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		for j := i; j < end; j++ {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return fmt.Errorf("reply to SET #%d: %w", j, err)
			}
			if string(line) != "+OK\r\n" {
				return fmt.Errorf("reply to SET #%d: %q", j, line)
			}
		}
	}
	if n == 0 {
		return nil
	}
	// Make sure the server holds what was written (DBSIZE may be missing
	// on a server under construction: then say so and trust the +OKs).
	if _, err := w.Write(resp.AppendCommand(nil, []byte("DBSIZE"))); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	line, err := r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("reply to DBSIZE: %w", err)
	}
	if len(line) > 0 && line[0] == ':' {
		got, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return fmt.Errorf("reply to DBSIZE: %q", line)
		}
		if got != n {
			return errors.New("DBSIZE " + strconv.Itoa(got) + " after " + strconv.Itoa(n) + " distinct SETs")
		}
		return nil
	}
	fmt.Printf("memfill: DBSIZE unavailable (%q); trusting the %d +OK replies\n", line, n)
	return nil
}

// appendValue appends the value for key i: "v" and i zero-padded to size.
func appendValue(b []byte, i, size int) []byte {
	digits := strconv.AppendInt(nil, int64(i), 10)
	b = append(b, 'v')
	for k := len(digits) + 1; k < size; k++ {
		b = append(b, '0')
	}
	return append(b, digits...)
}
