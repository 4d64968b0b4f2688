package compat

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// slowlogSession runs cmds on a fresh connection to addr with every command
// logged, and returns SLOWLOG GET -1 with each entry's id, time and
// duration checked and masked, and the client's address masked.
func slowlogSession(t *testing.T, addr string, cmds [][]string) string {
	t.Helper()
	c := redistest.Dial(t, addr)
	defer c.Close()
	local := c.Net().LocalAddr().String()
	c.Do("CONFIG", "SET", "slowlog-log-slower-than", "0")
	c.Do("CONFIG", "SET", "slowlog-max-len", "128")
	c.Do("SLOWLOG", "RESET")
	c.Do("CLIENT", "SETNAME", "observer")
	for _, cmd := range cmds {
		c.Do(cmd...)
	}
	got := c.Do("SLOWLOG", "GET", "-1")
	c.Do("CONFIG", "SET", "slowlog-log-slower-than", "10000")
	// The entries' integers are their only ':' lines: id, time, duration.
	ints := regexp.MustCompile(`\n:(-?\d+)\r`).FindAllStringSubmatch(got, -1)
	if len(ints)%3 != 0 || len(ints) == 0 {
		t.Fatalf("%s: SLOWLOG GET -1 = %q", addr, got)
	}
	now := time.Now().Unix()
	prevID := int64(-1)
	for i := 0; i < len(ints); i += 3 {
		id, _ := strconv.ParseInt(ints[i][1], 10, 64)
		at, _ := strconv.ParseInt(ints[i+1][1], 10, 64)
		dur, _ := strconv.ParseInt(ints[i+2][1], 10, 64)
		if prevID >= 0 && id != prevID-1 {
			t.Errorf("%s: entry ids not consecutive, newest first: %d after %d", addr, id, prevID)
		}
		prevID = id
		if at < now-10 || at > now+1 {
			t.Errorf("%s: entry %d time %d, now %d", addr, id, at, now)
		}
		if dur < 0 || dur > 5_000_000 {
			t.Errorf("%s: entry %d duration %d µs", addr, id, dur)
		}
	}
	// The first entry after the reset is SLOWLOG RESET's own, id 0 when
	// nothing ran before on this server; ids are compared relative to it.
	masked := regexp.MustCompile(`\n:-?\d+\r`).ReplaceAllString(got, "\n:N\r")
	masked = strings.ReplaceAll(masked, "$"+strconv.Itoa(len(local))+"\r\n"+local+"\r\n", "$ADDR\r\n")
	return masked
}

// TestSlowlogEntries compares SLOWLOG GET's entries with redis-server's:
// their structure, arguments trimmed to 32 of 128 bytes, redacted
// credentials, the client's name, what is not logged (EXEC), with the id,
// time, duration and client address checked apart and masked.
func TestSlowlogEntries(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	long := func(n int) string { return strings.Repeat("x", n) }
	many := []string{"RPUSH", "list"}
	for i := 0; i < 40; i++ {
		many = append(many, "e"+strconv.Itoa(i))
	}
	exact := []string{"RPUSH", "list2"}
	for i := 0; i < 30; i++ {
		exact = append(exact, "f"+strconv.Itoa(i))
	}
	cmds := [][]string{
		{"SET", "k", "v"},
		many,
		exact,
		{"SET", "big", long(300)},
		{"ECHO", long(128)},
		{"ECHO", long(129)},
		{"ECHO", ""},
		{"SET", long(200), "\x00\xff\r\n"},
		{"AUTH", "secret"},
		{"AUTH", "user", "secret"},
		{"HELLO", "2", "AUTH", "default", "secret"},
		{"HELLO", "2", "SETNAME", "observer"},
		{"CONFIG", "SET", "requirepass", ""},
		{"MULTI"},
		{"SET", "a", "1"},
		{"GET", "a"},
		{"EXEC"},
		{"GET"},
		{"NOSUCHCOMMAND", "x"},
		{"LPUSH", "k", "x"},
		{"BLPOP", "list", "0"},
		{"EVAL", "redis.call('set', KEYS[1], 'v') return redis.pcall('incr', KEYS[1])", "1", "sk"},
		{"SLOWLOG", "LEN"},
	}
	got := slowlogSession(t, ferryAddr, cmds)
	want := slowlogSession(t, redisAddr, cmds)
	if got != want {
		t.Errorf("SLOWLOG GET -1\n ferry: %q\n redis: %q", got, want)
	}
}

// statsSession runs cmds on a fresh connection after CONFIG RESETSTAT and
// returns INFO commandstats with the usec figures masked, its lines sorted
// (Redis lists commands in its hash table's order), and INFO errorstats.
func statsSession(t *testing.T, addr string, cmds [][]string) (cmdstats, errstats string) {
	t.Helper()
	c := redistest.Dial(t, addr)
	defer c.Close()
	c.Do("CONFIG", "RESETSTAT")
	for _, cmd := range cmds {
		c.Do(cmd...)
	}
	info := func(section string) string {
		raw := c.Do("INFO", section)
		i := strings.Index(raw, "\r\n")
		return raw[i+2 : len(raw)-2]
	}
	usec := regexp.MustCompile(`usec=\d+,usec_per_call=\d+\.\d\d,`)
	lines := strings.Split(strings.TrimSuffix(info("commandstats"), "\r\n"), "\r\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "#") && !usec.MatchString(l) {
			t.Errorf("%s: commandstats line %q", addr, l)
		}
		lines[i] = usec.ReplaceAllString(l, "usec=U,usec_per_call=U,")
	}
	sort.Strings(lines[1:])
	errs := info("errorstats")
	// INFO stats' total, which errorstats adds up to.
	total := regexp.MustCompile(`total_error_replies:\d+`).FindString(info("stats"))
	return strings.Join(lines, "\n"), errs + total
}

// TestInfoCommandstats compares INFO commandstats (calls, rejected and
// failed calls, subcommands as parent|sub) and INFO errorstats with
// redis-server's after the same commands: successes, errors raised by
// commands, rejections before they run, unknown commands and
// subcommands, a transaction aborted by a rejection, and CONFIG RESETSTAT.
func TestInfoCommandstats(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	cmds := [][]string{
		{"SET", "k", "v"},
		{"GET", "k"},
		{"GET", "nokey"},
		{"LPUSH", "k", "x"},
		{"INCR", "k"},
		{"GET"},
		{"SET", "k"},
		{"NOSUCHCOMMAND", "x"},
		{"CONFIG", "GET", "maxmemory"},
		{"CONFIG", "NOSUCH"},
		{"CONFIG", "SET", "maxmemory-policy", "bogus"},
		{"CLIENT", "ID"},
		{"MULTI"},
		{"SET", "a", "1"},
		{"GET", "a", "b"},
		{"EXEC"},
		{"EXEC"},
		{"MULTI"},
		{"INCR", "k"},
		{"EXEC"},
		{"MULTI"},
		{"EXEC", "extra"},
		{"EXEC"},
		{"AUTH", "nopass"},
		{"SLOWLOG", "GET", "x"},
		{"LATENCY", "GRAPH", "nothing"},
		{"XADD", "s", "0-0", "f", "v"},
		{"OBJECT", "ENCODING", "nokey"},
		{"EVAL", "redis.call('set', KEYS[1], 'v') return redis.pcall('incr', KEYS[1])", "1", "sk"},
		{"EVAL", "return redis.call('incr', KEYS[1])", "1", "sk"},
		{"EVAL", "return redis.error_reply('MYCODE made up')", "0"},
		{"EVAL", "local ok, e = pcall(redis.call, 'incr', KEYS[1]) return 1", "1", "sk"},
		{"EVAL", "return {err = 'OTHER made up'}", "0"},
	}
	gotCmd, gotErr := statsSession(t, ferryAddr, cmds)
	wantCmd, wantErr := statsSession(t, redisAddr, cmds)
	if gotCmd != wantCmd {
		t.Errorf("INFO commandstats\n ferry: %s\n redis: %s", gotCmd, wantCmd)
	}
	if gotErr != wantErr {
		t.Errorf("INFO errorstats\n ferry: %q\n redis: %q", gotErr, wantErr)
	}
	// RESETSTAT empties both.
	for _, addr := range []string{ferryAddr, redisAddr} {
		c, e := statsSession(t, addr, nil)
		if c != "# Commandstats\ncmdstat_config|resetstat:calls=1,usec=U,usec_per_call=U,rejected_calls=0,failed_calls=0" {
			t.Errorf("%s: commandstats after RESETSTAT: %q", addr, c)
		}
		if e != "# Errorstats\r\ntotal_error_replies:0" {
			t.Errorf("%s: errorstats after RESETSTAT: %q", addr, e)
		}
	}
}

// blockedSession blocks a client twice (served by another client's LPUSH,
// then timed out) and returns its slow log and INFO commandstats masked.
func blockedSession(t *testing.T, addr string) string {
	t.Helper()
	a, b := redistest.Dial(t, addr), redistest.Dial(t, addr)
	defer a.Close()
	defer b.Close()
	b.Do("DEL", "bl", "bl2")
	b.Do("CONFIG", "SET", "slowlog-log-slower-than", "0")
	b.Do("CONFIG", "RESETSTAT")
	a.Do("CLIENT", "SETNAME", "waiter")
	b.Do("SLOWLOG", "RESET")
	a.WriteRaw(redistest.Encode("BLPOP", "bl", "0"))
	time.Sleep(100 * time.Millisecond)
	b.Do("LPUSH", "bl", "x")
	served := a.Read()
	timedOut := a.Do("BLPOP", "bl2", "0.05")
	slow := b.Do("SLOWLOG", "GET", "3")
	b.Do("CONFIG", "SET", "slowlog-log-slower-than", "10000")
	slow = regexp.MustCompile(`\n:-?\d+\r`).ReplaceAllString(slow, "\n:N\r")
	slow = regexp.MustCompile(`\$\d+\r\n127\.0\.0\.1:\d+\r\n`).ReplaceAllLiteralString(slow, "$ADDR\r\n")
	stats := b.Do("INFO", "commandstats")
	stats = regexp.MustCompile(`cmdstat_blpop:calls=\d+`).FindString(stats)
	return served + timedOut + slow + stats
}

// TestBlockedCommandStats checks that a blocking command is counted and
// logged once, when it is served or times out, as Redis does.
func TestBlockedCommandStats(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	got, want := blockedSession(t, ferryAddr), blockedSession(t, redisAddr)
	if got != want {
		t.Errorf("blocked commands\n ferry: %q\n redis: %q", got, want)
	}
}
