package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// progressInterval is how often a progress line is redrawn.
const progressInterval = 250 * time.Millisecond

// progressOutput returns where progress lines go: f when it is a terminal,
// else nil (no progress at all, so logs and pipes stay clean).
func progressOutput(f *os.File) io.Writer {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return f
}

// progress redraws one line ("\r") on a terminal with the bytes and items
// (keys, entries) a long operation has handled and its rate, about four
// times a second, until Done. With a nil output it counts and prints
// nothing. The counters are safe to update from any goroutine.
type progress struct {
	out   io.Writer
	label string
	unit  string // what items counts: "keys", "entries"
	start time.Time
	bytes atomic.Int64
	items atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// startProgress starts reporting on out (nil: silent).
func startProgress(out io.Writer, label, unit string) *progress {
	p := &progress{out: out, label: label, unit: unit, start: time.Now(), stop: make(chan struct{})}
	if out == nil {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw("")
			}
		}
	}()
	return p
}

// Add counts n more items.
func (p *progress) Add(n int64) { p.items.Add(n) }

// Reader counts the bytes read through r.
func (p *progress) Reader(r io.Reader) io.Reader { return &countingReader{r: r, n: &p.bytes} }

// Writer counts the bytes written through w.
func (p *progress) Writer(w io.Writer) io.Writer { return &countingWriter{w: w, n: &p.bytes} }

// Done stops the redraws and, on a terminal, leaves the final figures on
// their line. Only the first call does anything.
func (p *progress) Done() {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		if p.out != nil {
			p.draw("\n")
		}
	})
}

func (p *progress) draw(end string) {
	elapsed := time.Since(p.start)
	b := p.bytes.Load()
	line := fmt.Sprintf("%s: %s", p.label, formatBytes(b))
	if p.unit != "" {
		line += fmt.Sprintf(", %d %s", p.items.Load(), p.unit)
	}
	if s := elapsed.Seconds(); s > 0 {
		line += fmt.Sprintf(", %s/s", formatBytes(int64(float64(b)/s)))
	}
	line += fmt.Sprintf(", %s", elapsed.Round(100*time.Millisecond))
	// \r returns to the line's start, ESC [K clears what a longer line left.
	fmt.Fprintf(p.out, "\r%s\x1b[K%s", line, end)
}

// formatBytes formats n in binary units.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
