package compat

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// rejectStatsScripts are scripts whose redis.call or redis.pcall the
// script's own checks refuse (unknown command, arity, a command scripts
// may not call, a write or may-replicate command from a read-only
// script), with controls whose errors come from elsewhere (a command's
// own error, redis.pcall without arguments, an argument of the wrong
// type, an error the script makes).
var rejectStatsScripts = [][]string{
	{"EVAL", "return redis.call('select',99)", "0"},
	{"EVAL", "local t = redis.pcall('select',99) return t['err']", "0"},
	{"EVAL_RO", "return redis.call('set','x','y')", "1", "x"},
	{"EVAL_RO", "local t = redis.pcall('set','x','y') return t['err']", "1", "x"},
	{"EVAL", "return redis.call('get')", "0"},
	{"EVAL", "return redis.pcall('get')", "0"},
	{"EVAL", "local e = redis.pcall('get') return tostring(e['ignore_error_stats_update'])", "0"},
	{"EVAL", "local ok, e = pcall(redis.call, 'get') return e", "0"},
	{"EVAL", "local e = redis.pcall('get') error(e)", "0"},
	{"EVAL", "redis.pcall('nosuch') redis.pcall('client','nosuch') return 1", "0"},
	{"EVAL", "redis.pcall('blpop','x',0) redis.pcall('client') redis.pcall('config') return 1", "0"},
	{"EVAL", "#!lua flags=no-writes\nredis.pcall('set','x',1) redis.pcall('publish','c','m') return 1", "0"},
	{"EVAL", "#!lua flags=no-writes\nreturn redis.call('publish','c','m')", "0"},
	{"EVAL", "redis.pcall() return redis.pcall()", "0"},
	{"EVAL", "return redis.call('get', {})", "0"},
	{"EVAL", "return redis.error_reply('MINE made up')", "0"},
	{"FCALL", "ro", "0"},
	{"FCALL_RO", "rw", "0"},
}

// rejectStatsSession runs each script after CONFIG RESETSTAT and returns
// its reply, its INFO commandstats lines (sorted, durations masked), INFO
// errorstats and total_error_replies.
func rejectStatsSession(t *testing.T, addr string) []string {
	t.Helper()
	c := redistest.Dial(t, addr)
	defer c.Close()
	c.Do("FUNCTION", "LOAD", "REPLACE", "#!lua name=rejlib\n"+
		"redis.register_function{function_name='ro', callback=function() redis.pcall('set','x',1) return redis.call('incr','x') end, flags={'no-writes'}}\n"+
		"redis.register_function('rw', function() return redis.call('set','x',1) end)")
	usec := regexp.MustCompile(`usec=\d+,usec_per_call=\d+\.\d\d,`)
	total := regexp.MustCompile(`total_error_replies:\d+`)
	var out []string
	for _, s := range rejectStatsScripts {
		c.Do("CONFIG", "RESETSTAT")
		reply := c.Do(s...)
		lines := strings.Split(strings.TrimSpace(c.Do("INFO", "commandstats")), "\r\n")
		lines = lines[1:] // the bulk length and "# Commandstats"
		sort.Strings(lines)
		out = append(out, reply+usec.ReplaceAllString(strings.Join(lines, "\n"), "")+"\n"+
			c.Do("INFO", "errorstats")+total.FindString(c.Do("INFO", "stats")))
	}
	c.Do("FUNCTION", "DELETE", "rejlib")
	return out
}

// TestScriptRejectStats checks that a call a script's checks refuse is
// counted as Redis's scriptCall counts it: in errorstats and
// total_error_replies at once (so a redis.pcall the script swallows still
// counts, and one it returns counts once) and in the refused command's
// rejected_calls. Found by Redis's "Consistent eval error reporting"
// test; ferry counted neither.
func TestScriptRejectStats(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	got, want := rejectStatsSession(t, ferryAddr), rejectStatsSession(t, redisAddr)
	for i, s := range rejectStatsScripts {
		if got[i] != want[i] {
			t.Errorf("%q\n ferry: %q\n redis: %q", s, got[i], want[i])
		}
	}
}
