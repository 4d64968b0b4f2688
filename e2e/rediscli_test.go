package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
)

// redis-cli 7.0's special modes against a ferry master (in process, on an
// embedded NATS log, so that it also serves SYNC) and against a
// redis-server holding the same data: where both outputs are
// deterministic they must be equal byte for byte; where they carry
// timings or memory figures, they must have the same shape.

// cliResult is what one redis-cli run printed and its exit status.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCli runs redis-cli against addr with args, stdin as its input (none
// when empty), and env added to its environment.
func runCli(t *testing.T, addr, stdin string, env []string, args ...string) cliResult {
	t.Helper()
	bin := redistest.Need(t, "redis-cli")
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-h", host, "-p", port}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("redis-cli %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("redis-cli %q did not finish: %s%s", args, out.String(), errb.String())
	}
	return cliResult{out.String(), errb.String(), code}
}

// cli is runCli with no input.
func cli(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	return runCli(t, addr, "", nil, args...)
}

// sameCli runs the same redis-cli invocation against ferry and redis and
// fails unless stdout, stderr and the exit status are equal. It returns
// ferry's result.
func sameCli(t *testing.T, ferry, redis, stdin string, env []string, args ...string) cliResult {
	t.Helper()
	f := runCli(t, ferry, stdin, env, args...)
	r := runCli(t, redis, stdin, env, args...)
	if f != r {
		t.Errorf("redis-cli %q:\nferry (exit %d):\n%s%s\nredis (exit %d):\n%s%s", args, f.code, f.stdout, f.stderr, r.code, r.stdout, r.stderr)
	}
	return f
}

// cliStream is a long-running redis-cli whose output is read line by line
// as it comes: its stdout goes through stdbuf -oL (redis-cli buffers
// stdout fully when it is not a terminal, and these modes never exit on
// their own).
type cliStream struct {
	out, err chan string
}

func streamCli(t *testing.T, addr string, args ...string) *cliStream {
	t.Helper()
	stdbuf := redistest.Need(t, "stdbuf")
	bin := redistest.Need(t, "redis-cli")
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(stdbuf, append([]string{"-oL", bin, "-h", host, "-p", port}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &cliStream{out: make(chan string, 1024), err: make(chan string, 1024)}
	lines := func(r *bufio.Scanner, ch chan string) {
		for r.Scan() {
			ch <- r.Text()
		}
		close(ch)
	}
	go lines(bufio.NewScanner(stdout), s.out)
	go lines(bufio.NewScanner(stderr), s.err)
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return s
}

// next returns the next line of ch, failing the test after d or at the
// end of the output.
func (s *cliStream) next(t *testing.T, ch chan string, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatal("redis-cli output ended")
		}
		return l
	case <-time.After(d):
		t.Fatalf("no line from redis-cli within %s", d)
	}
	return ""
}

// cliDataset is the RESP stream both servers are loaded with through
// --pipe: 1500 short strings and, per type, one key far bigger (in
// elements and in memory) than the others, so that --bigkeys and
// --memkeys have one answer; the INCR fails.
func cliDataset() (data []byte, commands int) {
	var b bytes.Buffer
	add := func(args ...string) {
		b.Write(redistest.Encode(args...))
		commands++
	}
	for i := range 1500 {
		add("SET", "k:"+strconv.Itoa(i), "v"+strconv.Itoa(i))
	}
	add("SET", "big:str", strings.Repeat("x", 200))
	add("INCR", "big:str")
	list, set, hash, zset := []string{"RPUSH", "big:list"}, []string{"SADD", "big:set"}, []string{"HSET", "big:hash"}, []string{"ZADD", "big:zset"}
	for i := range 300 {
		n := strconv.Itoa(i)
		list = append(list, "element-"+n)
		set = append(set, "member-"+n)
		hash = append(hash, "field-"+n, "value-"+n)
		zset = append(zset, n, "member-"+n)
	}
	add(list...)
	add(set...)
	add(hash...)
	add(zset...)
	for i := 1; i <= 300; i++ {
		add("XADD", "big:stream", strconv.Itoa(i)+"-1", "field", strings.Repeat("v", 20))
	}
	add("RPUSH", "small:list", "a", "b")
	add("SADD", "small:set", "a", "b")
	add("HSET", "small:hash", "f", "v")
	add("ZADD", "small:zset", "1", "a", "2.5", "b")
	add("XADD", "small:stream", "1-1", "f", "v")
	return b.Bytes(), commands
}

// TestRedisCli runs redis-cli's modes against a ferry master and a
// redis-server given the same data.
func TestRedisCli(t *testing.T) {
	redistest.Need(t, "redis-cli")
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "rediscli", nil)
	// No wait before a full sync to redis-cli --replica.
	redis := redistest.Redis(t, "--repl-diskless-sync-delay", "0")
	ferry := m.addr

	t.Run("pipe", func(t *testing.T) {
		data, n := cliDataset()
		res := sameCli(t, ferry, redis, string(data), nil, "--pipe")
		want := fmt.Sprintf("All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: 1, replies: %d\n", n)
		if res.stdout != want || res.code != 1 || res.stderr != "ERR value is not an integer or out of range\n" {
			t.Errorf("--pipe on ferry (exit %d):\n%s%s\nwant (exit 1):\n%s", res.code, res.stdout, res.stderr, want)
		}
		for _, addr := range []string{ferry, redis} {
			if got := mustQuery(t, addr, "DBSIZE"); got != ":1511\r\n" {
				t.Fatalf("DBSIZE on %s after --pipe = %q", addr, got)
			}
		}
	})

	t.Run("scan", func(t *testing.T) {
		sorted := func(args ...string) []string {
			f := strings.Fields(cli(t, ferry, args...).stdout)
			r := strings.Fields(cli(t, redis, args...).stdout)
			slices.Sort(f)
			slices.Sort(r)
			if !slices.Equal(f, r) {
				t.Errorf("redis-cli %q: ferry listed %d keys, redis %d (or other keys)", args, len(f), len(r))
			}
			return f
		}
		if all := sorted("--scan"); len(all) != 1511 {
			t.Errorf("--scan listed %d keys, want 1511", len(all))
		}
		if some := sorted("--scan", "--pattern", "k:14*"); len(some) != 111 {
			t.Errorf("--scan --pattern k:14* listed %d keys, want 111", len(some))
		}
		if got := sorted("--scan", "--quoted-pattern", `"big:\x73*"`); strings.Join(got, " ") != "big:set big:str big:stream" {
			t.Errorf("--scan --quoted-pattern big:\\x73* = %q", got)
		}
	})

	// The progress lines before the summary follow SCAN's order, which
	// differs; the summary does not.
	progress := regexp.MustCompile(`^\[\d\d\.\d\d%\] Biggest (string|list  |set   |hash  |zset  |stream) found so far '"[^"]+"' with \d+ (bytes|items|members|fields|entries)$`)
	splitSummary := func(t *testing.T, name, out string) (head []string, summary string) {
		t.Helper()
		before, after, ok := strings.Cut(out, "-------- summary -------\n")
		if !ok {
			t.Fatalf("%s: no summary:\n%s", name, out)
		}
		return strings.Split(before, "\n"), after
	}
	t.Run("bigkeys", func(t *testing.T) {
		for _, args := range [][]string{{"--bigkeys"}, {"--bigkeys", "--pattern", "small:*", "-i", "0.01"}} {
			f, r := cli(t, ferry, args...), cli(t, redis, args...)
			if f.code != 0 || r.code != 0 || f.stderr != "" {
				t.Fatalf("redis-cli %q: ferry exit %d %s, redis exit %d %s", args, f.code, f.stderr, r.code, r.stderr)
			}
			fh, fs := splitSummary(t, "ferry", f.stdout)
			rh, rs := splitSummary(t, "redis", r.stdout)
			if fs != rs {
				t.Errorf("redis-cli %q summary:\nferry:\n%s\nredis:\n%s", args, fs, rs)
			}
			if len(fh) < 5 || strings.Join(fh[:5], "\n") != strings.Join(rh[:5], "\n") {
				t.Errorf("redis-cli %q header: ferry %q, redis %q", args, fh, rh)
			}
			for _, l := range fh[5:] {
				if l != "" && !progress.MatchString(l) {
					t.Errorf("redis-cli %q on ferry: unexpected line %q", args, l)
				}
			}
		}
		_, s := splitSummary(t, "ferry", cli(t, ferry, "--bigkeys").stdout)
		for _, want := range []string{
			"Sampled 1511 keys in the keyspace!\n",
			"Biggest string found '\"big:str\"' has 200 bytes\n", "Biggest stream found '\"big:stream\"' has 300 entries\n",
			"1501 strings with ", "2 lists with 302 items (00.13% of keys, avg size 151.00)\n",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("--bigkeys summary on ferry lacks %q:\n%s", want, s)
			}
		}
	})

	t.Run("memkeys", func(t *testing.T) {
		// Memory figures differ; the keys found and the shape do not.
		sizes := regexp.MustCompile(`(has|with) \d+ bytes|avg size \d+\.\d\d`)
		for _, args := range [][]string{{"--memkeys"}, {"--memkeys-samples", "3"}, {"--memkeys", "--pattern", "big:*"}} {
			f, r := cli(t, ferry, args...), cli(t, redis, args...)
			if f.code != 0 || r.code != 0 || f.stderr != "" {
				t.Fatalf("redis-cli %q: ferry exit %d %s, redis exit %d %s", args, f.code, f.stderr, r.code, r.stderr)
			}
			_, fs := splitSummary(t, "ferry", f.stdout)
			_, rs := splitSummary(t, "redis", r.stdout)
			if fs == "" || sizes.ReplaceAllString(fs, "$1 N") != sizes.ReplaceAllString(rs, "$1 N") {
				t.Errorf("redis-cli %q summary:\nferry:\n%s\nredis:\n%s", args, fs, rs)
			}
			for _, typ := range []string{"list", "set", "hash", "zset", "stream"} {
				if want := fmt.Sprintf("found '\"big:%s\"' has ", typ); !strings.Contains(fs, want) {
					t.Errorf("redis-cli %q on ferry: no %q in\n%s", args, want, fs)
				}
			}
		}
	})

	t.Run("hotkeys", func(t *testing.T) {
		// Without an LFU policy both refuse the same way.
		res := sameCli(t, ferry, redis, "", nil, "--hotkeys")
		if res.code != 1 || !strings.HasPrefix(res.stderr, "Error: ERR An LFU maxmemory policy is not selected") {
			t.Errorf("--hotkeys without LFU (exit %d):\n%s%s", res.code, res.stdout, res.stderr)
		}
		// With one, redis-server reports its counters. ferry keeps no
		// access frequency (a deliberate difference): OBJECT FREQ, and so
		// --hotkeys, answer as without the policy.
		for _, addr := range []string{ferry, redis} {
			mustQuery(t, addr, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
			defer mustQuery(t, addr, "CONFIG", "SET", "maxmemory-policy", "noeviction")
		}
		for range 20 {
			mustQuery(t, redis, "GET", "big:str")
		}
		if r := cli(t, redis, "--hotkeys"); r.code != 0 || !strings.Contains(r.stdout, "keyname: \"big:str\"") {
			t.Errorf("--hotkeys on redis with allkeys-lfu (exit %d):\n%s", r.code, r.stdout)
		}
		if f := cli(t, ferry, "--hotkeys"); f != res {
			t.Errorf("--hotkeys on ferry with allkeys-lfu (exit %d):\n%s%s\nwant what it says without the policy", f.code, f.stdout, f.stderr)
		}
	})

	t.Run("latency", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			re   string
		}{
			{[]string{"--latency", "-i", "0.2"}, `^\d+ \d+ \d+\.\d\d \d+\n$`}, // not a tty: raw
			{[]string{"--latency", "--csv", "-i", "0.2"}, `^\d+,\d+,\d+\.\d\d,\d+\n$`},
			{[]string{"--latency", "--json", "-i", "0.2"}, `^\{"min": \d+, "max": \d+, "avg": \d+\.\d\d, "count": \d+\}\n$`},
		} {
			re := regexp.MustCompile(c.re)
			for name, addr := range map[string]string{"ferry": ferry, "redis": redis} {
				if res := cli(t, addr, c.args...); res.code != 0 || !re.MatchString(res.stdout) || res.stderr != "" {
					t.Errorf("redis-cli %q on %s (exit %d): %q %q", c.args, name, res.code, res.stdout, res.stderr)
				}
			}
		}
	})

	t.Run("latency-history", func(t *testing.T) {
		sample := regexp.MustCompile(`^\d+ \d+ \d+\.\d\d (\d+)$`)
		rangeLine := regexp.MustCompile(`^ -- \d+\.\d\d seconds range$`)
		s := streamCli(t, ferry, "--latency-history", "-i", "0.2", "--raw")
		want := 1
		ranges := 0
		for ranges < 2 {
			l := s.next(t, s.out, 5*time.Second)
			if rangeLine.MatchString(l) && want > 1 {
				ranges++
				want = 1
				continue
			}
			mm := sample.FindStringSubmatch(l)
			if mm == nil || mm[1] != strconv.Itoa(want) {
				t.Fatalf("--latency-history line %q, want a sample numbered %d or a range line", l, want)
			}
			want++
		}
	})

	t.Run("stat", func(t *testing.T) {
		line := regexp.MustCompile(`^(\d+) +(\d+(\.\d\d)?[BKMGT]) +(\d+) +(\d+) +(\d+) \(\+(\d+)\) +(\d+) *$`)
		var keys [2]string
		for i, addr := range []string{ferry, redis} {
			s := streamCli(t, addr, "--stat", "-i", "0.1")
			if h := s.next(t, s.out, 5*time.Second); h != "------- data ------ --------------------- load -------------------- - child -" {
				t.Fatalf("--stat header %q", h)
			}
			if h := s.next(t, s.out, 5*time.Second); h != "keys       mem      clients blocked requests            connections          " {
				t.Fatalf("--stat header %q", h)
			}
			for j, plus := range []string{"0", "1"} {
				l := s.next(t, s.out, 5*time.Second)
				mm := line.FindStringSubmatch(l)
				if mm == nil || mm[5] != "0" || mm[7] != plus {
					t.Fatalf("--stat line %d on %s: %q", j, addr, l)
				}
				keys[i] = mm[1]
			}
		}
		if keys[0] != keys[1] || keys[0] != "1511" {
			t.Errorf("--stat keys: ferry %s, redis %s, want 1511", keys[0], keys[1])
		}
	})

	t.Run("repeat", func(t *testing.T) {
		if res := sameCli(t, ferry, redis, "", nil, "-r", "3", "-i", "0.05", "INCR", "counter"); res.stdout != "1\n2\n3\n" {
			t.Errorf("-r 3 INCR: %q", res.stdout)
		}
		sameCli(t, ferry, redis, "", nil, "-r", "2", "--no-raw", "LRANGE", "small:list", "0", "-1")
	})

	t.Run("stdin", func(t *testing.T) {
		sameCli(t, ferry, redis, "from\nstdin", nil, "-x", "SET", "xkey")
		if res := sameCli(t, ferry, redis, "", nil, "GET", "xkey"); res.stdout != "from\nstdin\n" {
			t.Errorf("GET xkey after -x SET = %q", res.stdout)
		}
		// -X: a DUMP payload (ferry's own is the plain RDB encoding, a
		// deliberate difference) restored on the server that wrote it and
		// on the other one.
		for i, from := range []string{ferry, redis} {
			dump := cli(t, from, "-D", "", "--raw", "DUMP", "small:hash")
			if dump.code != 0 || len(dump.stdout) < 10 {
				t.Fatalf("DUMP: %q", dump.stdout)
			}
			name := "copy:hash" + strconv.Itoa(i)
			sameCli(t, ferry, redis, dump.stdout, nil, "-X", "tag", "RESTORE", name, "0", "tag")
			if res := sameCli(t, ferry, redis, "", nil, "HGETALL", name); res.stdout != "f\nv\n" {
				t.Errorf("HGETALL of the -X RESTOREd hash = %q", res.stdout)
			}
		}
	})

	t.Run("eval", func(t *testing.T) {
		dir := t.TempDir()
		scripts := map[string]string{
			"nested.lua": `redis.call('SET', KEYS[1], ARGV[1])
return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV, redis.call('GET', KEYS[1]),
	{1, {2, {3, 'x'}}}, redis.status_reply('FINE'), redis.error_reply('MY error'), 3.7, true, false}`,
			"error.lua": `return redis.call('INCR', KEYS[1])`,
			"resp3.lua": `redis.setresp(3)
return {redis.call('HGETALL', 'small:hash'), {double=2.5}, {map={a={1, 2}}}, redis.call('ZSCORE', 'small:zset', 'b')}`,
		}
		for name, body := range scripts {
			file := filepath.Join(dir, name)
			if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, mode := range [][]string{{"--raw"}, {"--no-raw"}, {"-3", "--no-raw"}, {"-3", "--raw"}, {"--csv"}, {"-3", "--json"}} {
				res := sameCli(t, ferry, redis, "", nil, append(mode, "--eval", file, "ek1", "ek2", ",", "a1", "a2")...)
				if res.stdout == "" {
					t.Errorf("--eval %s %q printed nothing", name, mode)
				}
			}
		}
		nested := sameCli(t, ferry, redis, "", nil, "--no-raw", "--eval", filepath.Join(dir, "nested.lua"), "ek1", "ek2", ",", "a1", "a2")
		if !strings.HasPrefix(nested.stdout, " 1) \"ek1\"\n 2) \"ek2\"\n 3) \"a1\"\n 4) \"a2\"\n 5) (integer) 2\n 6) (integer) 2\n 7) \"a1\"\n"+
			" 8) 1) (integer) 1\n    2) 1) (integer) 2\n       2) 1) (integer) 3\n          2) \"x\"\n 9) FINE\n10) (error) MY error\n") {
			t.Errorf("--eval nested.lua:\n%s", nested.stdout)
		}
	})

	t.Run("formats", func(t *testing.T) {
		cmds := [][]string{
			{"XRANGE", "small:stream", "-", "+"},
			{"XINFO", "STREAM", "small:stream"},
			{"HGETALL", "small:hash"},
			{"ZRANGE", "small:zset", "0", "-1", "WITHSCORES"},
			{"ZSCORE", "small:zset", "b"},
			{"LRANGE", "big:list", "0", "2"},
			{"CONFIG", "GET", "maxmemory-policy"},
			{"GET", "nokey"},
			{"EXISTS", "small:set", "nokey"},
			{"SMISMEMBER", "small:set", "a", "z"},
			{"INCR", "big:str"},
			{"EVAL", "return {1, {2, {redis.status_reply('S'), redis.error_reply('E e')}}}", "0"},
			{"EVAL", "redis.setresp(3); return {map={k={set={x=true}}}}", "0"},
			{"EVAL", "redis.setresp(3); return {double=-0.5}", "0"},
		}
		for _, mode := range [][]string{{"--no-raw"}, {"--raw"}, {"-3", "--no-raw"}, {"-3", "--raw"}, {"--csv"}, {"-3", "--csv"}, {"--json"}, {"-2", "--json"}, {"--quoted-json"}} {
			for _, c := range cmds {
				sameCli(t, ferry, redis, "", nil, append(mode, c...)...)
			}
		}
	})

	t.Run("db", func(t *testing.T) {
		sameCli(t, ferry, redis, "", nil, "-n", "3", "SET", "dbkey", "1")
		if res := sameCli(t, ferry, redis, "", nil, "-n", "3", "--scan"); res.stdout != "dbkey\n" {
			t.Errorf("-n 3 --scan = %q", res.stdout)
		}
		sameCli(t, ferry, redis, "", nil, "-n", "3", "--bigkeys")
		if res := sameCli(t, ferry, redis, "", nil, "-u", "redis://127.0.0.1/3", "DBSIZE"); res.stdout != "1\n" {
			t.Errorf("-u redis://.../3 DBSIZE = %q", res.stdout)
		}
		sameCli(t, ferry, redis, "", nil, "-n", "3", "DEL", "dbkey")
	})

	t.Run("auth", func(t *testing.T) {
		const pass = "s3cret"
		for _, addr := range []string{ferry, redis} {
			mustQuery(t, addr, "CONFIG", "SET", "requirepass", pass)
		}
		defer func() {
			for _, addr := range []string{ferry, redis} {
				cli(t, addr, "-a", pass, "--no-auth-warning", "CONFIG", "SET", "requirepass", "")
			}
		}()
		for _, c := range []struct {
			env  []string
			args []string
		}{
			{nil, []string{"PING"}},
			{nil, []string{"-a", pass, "PING"}},
			{nil, []string{"-a", pass, "--no-auth-warning", "PING"}},
			{nil, []string{"--pass", pass, "--no-auth-warning", "PING"}},
			{nil, []string{"--user", "default", "--pass", pass, "--no-auth-warning", "PING"}},
			{nil, []string{"--user", "default", "--pass", "wrong", "--no-auth-warning", "PING"}},
			{nil, []string{"--user", "nobody", "--pass", pass, "--no-auth-warning", "PING"}},
			{nil, []string{"-a", "wrong", "PING"}},
			{[]string{"REDISCLI_AUTH=" + pass}, []string{"PING"}},
			{nil, []string{"-u", "redis://default:" + pass + "@127.0.0.1/0", "--no-auth-warning", "DBSIZE"}},
			{nil, []string{"-3", "-a", pass, "--no-auth-warning", "CLIENT", "GETNAME"}},
			{nil, []string{"-a", pass, "--no-auth-warning", "--scan", "--pattern", "small:l*"}},
		} {
			sameCli(t, ferry, redis, "", c.env, c.args...)
		}
		if res := cli(t, ferry, "-a", pass, "PING"); res.stdout != "PONG\n" || !strings.Contains(res.stderr, "Warning: Using a password") {
			t.Errorf("-a without --no-auth-warning: %q %q", res.stdout, res.stderr)
		}
	})

	t.Run("replica", func(t *testing.T) {
		// ferry sends the RDB as one sized bulk, redis-server (diskless,
		// as it always is for a filtered RDB) until an EOF marker: both
		// are in the protocol. A ferry replica streams its master's
		// writes as the master does.
		r := startReplica(t, ns.URL(), "rediscli", true)
		waitCaughtUp(t, m, r, 20*time.Second)
		head := regexp.MustCompile(`^SYNC with master, discarding (\d+ bytes of bulk transfer|bytes of bulk transfer until EOF marker)\.\.\.$`)
		done := regexp.MustCompile(`^SYNC done( after \d+ bytes)?\. Logging commands from master\.$`)
		nodes := []struct{ name, addr, write string }{{"ferry", ferry, ferry}, {"ferry replica", r.addr, ferry}, {"redis", redis, redis}}
		want := []string{
			`"SET","rk","v"`, `"RPUSH","rl","a","b"`, `"SELECT","2"`, `"INCR","rc"`, `"SELECT","0"`,
			`"HSET","rh","f","v"`, `"DEL","rk","rl","rh"`, `"SELECT","2"`, `"DEL","rc"`, `"SELECT","0"`,
			`"MULTI"`, `"INCR","ek"`, `"INCR","ek"`, `"EXEC"`, `"DEL","ek"`,
		}
		for _, n := range nodes {
			addr := n.addr
			s := streamCli(t, addr, "--replica")
			for j, want := range []string{"sending REPLCONF capa eof", "sending REPLCONF rdb-filter-only ", "", ""} {
				l := s.next(t, s.err, 10*time.Second)
				// ferry's bulk is sized.
				sized := n.name == "redis" || !strings.Contains(l, "EOF") && !strings.Contains(l, " after ")
				if j == 2 && !head.MatchString(l) || j == 3 && !done.MatchString(l) || want != "" && l != want || !sized {
					t.Fatalf("--replica of %s: stderr line %q, want %q", addr, l, want)
				}
			}
			// Commands in capitals: redis-server passes a plain SET on as the
			// client spelled it, ferry's log holds the effect "SET" (and
			// SET's NX/XX/GET are dropped, SETNX becomes SET): equivalent
			// for a replica, spelled differently. The writes change
			// database between entries: ferry sends a SELECT 0 after each
			// entry that left another database selected (an entry applies
			// from database 0), which consecutive entries in database 2
			// would show and redis-server would not.
			c := redistest.Dial(t, n.write)
			cmds := [][]string{
				{"SET", "rk", "v"}, {"RPUSH", "rl", "a", "b"}, {"SELECT", "2"}, {"INCR", "rc"}, {"SELECT", "0"},
				{"HSET", "rh", "f", "v"}, {"DEL", "rk", "rl", "rh"}, {"SELECT", "2"}, {"DEL", "rc"}, {"SELECT", "0"},
				{"EVAL", "redis.call('INCR', KEYS[1]); return redis.call('INCR', KEYS[1])", "1", "ek"},
				{"GETDEL", "ek"},
			}
			for _, cmd := range cmds {
				c.Do(cmd...)
			}
			var got []string
			for {
				l := s.next(t, s.out, 10*time.Second)
				// A redis master PINGs its replicas every 10 s, and selects
				// its database before the first command after a full sync.
				if l == `"PING"` || len(got) == 0 && l == `"SELECT","0"` {
					continue
				}
				got = append(got, l)
				if l == `"DEL","ek"` || l == `"del","ek"` {
					break
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("--replica of %s streamed:\n%s\nwant:\n%s", n.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	})

	t.Run("functions-rdb", func(t *testing.T) {
		checkRDB := redistest.Need(t, "redis-check-rdb")
		lib := "#!lua name=clilib\nredis.register_function('clifn', function(keys, args) return args[1] end)"
		dir := t.TempDir()
		files := map[string]string{}
		for name, addr := range map[string]string{"ferry": ferry, "redis": redis} {
			mustQuery(t, addr, "FUNCTION", "LOAD", "REPLACE", lib)
			file := filepath.Join(dir, name+".rdb")
			res := cli(t, addr, "--functions-rdb", file)
			if res.code != 0 || !strings.Contains(res.stderr, "sending REPLCONF rdb-filter-only functions\n") ||
				!strings.Contains(res.stderr, "\nTransfer finished with success") {
				t.Fatalf("--functions-rdb on %s (exit %d):\n%s%s", name, res.code, res.stdout, res.stderr)
			}
			out, err := exec.Command(checkRDB, file).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "RDB looks OK!") || !strings.Contains(string(out), "[info] 0 keys read\n") {
				t.Fatalf("redis-check-rdb of %s's functions RDB: %v\n%s", name, err, out)
			}
			files[name] = file
		}
		// The keys stay out; the library loads into a redis-server.
		loaded := redistest.Redis(t, "--dir", dir, "--dbfilename", filepath.Base(files["ferry"]))
		if got := mustQuery(t, loaded, "FCALL", "clifn", "0", "hi"); got != bulk("hi") {
			t.Errorf("FCALL clifn on a redis-server loading ferry's functions RDB = %q", got)
		}
		if got := mustQuery(t, loaded, "DBSIZE"); got != ":0\r\n" {
			t.Errorf("DBSIZE of ferry's functions RDB = %q", got)
		}
	})
}
