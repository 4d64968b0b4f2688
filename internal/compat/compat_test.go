package compat

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/internal/resp"
)

// pair is one connection to each server.
type pair struct {
	ferry, redis *redistest.Conn
}

func TestScripts(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		for _, proto := range []int{2, 3} {
			t.Run(name+"/resp"+string(rune('0'+proto)), func(t *testing.T) {
				p := pair{redistest.Dial(t, ferryAddr), redistest.Dial(t, redisAddr)}
				for _, c := range []*redistest.Conn{p.ferry, p.redis} {
					c.Do("FLUSHALL")
					if proto == 3 {
						c.Do("HELLO", "3")
					}
				}
				runScript(t, p, file, proto)
			})
		}
	}
}

func runScript(t *testing.T, p pair, file string, proto int) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mode := ""
		if i := strings.Index(line, ": "); i > 0 && !strings.ContainsAny(line[:i], " \"'") {
			mode, line = line[:i], line[i+2:]
		}
		switch mode {
		case "resp2", "resp3":
			if mode != "resp"+string(rune('0'+proto)) {
				continue
			}
			mode = ""
		}
		args, ok := resp.SplitArgs([]byte(line), nil)
		if !ok || len(args) == 0 {
			t.Fatalf("%s:%d: cannot parse %q", file, lineNo, line)
		}
		strs := make([]string, len(args))
		for i, a := range args {
			strs[i] = string(a)
		}
		got, want := p.ferry.Do(strs...), p.redis.Do(strs...)
		switch mode {
		case "sort":
			got, want = redistest.SortReply(got, false), redistest.SortReply(want, false)
		case "sortpairs":
			got, want = redistest.SortReply(got, true), redistest.SortReply(want, true)
		case "type":
			got, want = got[:1], want[:1]
		case "", "both":
		default:
			t.Fatalf("%s:%d: unknown prefix %q", file, lineNo, mode)
		}
		if got != want {
			t.Errorf("%s:%d: %s\n ferry: %q\n redis: %q", file, lineNo, line, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}
