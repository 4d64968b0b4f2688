package compat

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestRandomACLAgainstRedis is a randomized differential test of Redis
// 7.0's users (ACL SETUSER and what the users it makes may run). Each
// round of a seed's run
//
//   - sends ACL SETUSER with random rule lists (valid and not) for a few
//     user names, then compares ACL GETUSER (RESP2 and RESP3), ACL LIST,
//     ACL USERS and ACL DRYRUN;
//   - runs random steps on a few connections: AUTH and HELLO AUTH as those
//     users, commands on a few keys and channels, Pub/Sub, EVAL, MULTI/EXEC,
//     CLIENT KILL USER, ACL WHOAMI, ACL DELUSER and ACL SETUSER (from the
//     connections and from a control connection);
//   - compares ACL LOG (see aclNormLog), then resets it.
//
// Every step is followed by markers on every connection (one after the
// other), as the PINGs of TestRandomTrackingAgainstRedis, and what each
// connection received (closes included) must be the same bytes on both
// servers. A marker is an unknown command named after the step: Redis
// refuses it, naming it, before it checks authentication, ACL rules,
// transactions or the RESP2 Pub/Sub context, so its reply is the same,
// and unique, whatever the state of the connection (a PING would be
// refused with NOAUTH or NOPERM, as a step's own commands can be). It
// also makes the connection's cmd= in CLIENT LIST NULL.
//
// Normalized before comparing, because they differ between any two
// redis-servers: HELLO's id (and version); the order of the single
// commands in a description of command rules (GETUSER's commands, ACL
// LIST), which Redis 7.0 writes walking its command table, a dict with a
// random hash seed (see aclNormRules); ACL LOG's age-seconds, and the
// client-info fields other than those aclLogClientFields keeps; the order
// of pmessages of one PUBLISH and of UNSUBSCRIBE's confirmations (dicts
// too, see sortRuns and sortUnsubscribeRuns). With FERRY_ACL_TWO_REDIS=1
// the test runs against two redis-servers instead of ferry and one: that
// checks that what is left is deterministic.
//
// CI runs fixed seeds; by hand,
//
//	FERRY_DIFF_SEED=12345 FERRY_DIFF_STEPS=40 go test ./internal/compat -run 'TestRandomACLAgainstRedis$'
//
// runs one seed for 40 rounds. A mismatch prints the seed and every step
// sent so far, so that it can be replayed.
func TestRandomACLAgainstRedis(t *testing.T) {
	seeds, rounds := redistest.Seeds(t, []uint64{1, 2, 4}, 8)
	addrs, files := aclServersWithFiles(t)
	seen := map[string]int{}
	var watch [2]*redistest.Conn
	for srv := range 2 {
		watch[srv] = redistest.Dial(t, addrs[srv])
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			r := newACLRun(t, addrs, seed)
			r.files = files
			r.seen = seen
			for range rounds {
				r.round()
			}
			r.cleanup()
			if aclTrace {
				t.Log(strings.Join(r.hist, "\n"))
			}
		})
		// The run's connections are closed: wait until both servers have
		// let them go.
		for _, c := range watch {
			c.WaitInfo("clients", "connected_clients", "1")
		}
	}
	t.Logf("compared: %v", seen)
	// The fixed seeds must reach every kind of reply, or the test
	// compares less than it claims.
	if os.Getenv("FERRY_DIFF_SEED") == "" && !t.Failed() {
		names := slices.Clone(aclLogins)
		for _, k := range aclKinds {
			names = append(names, k.name)
		}
		for _, name := range names {
			if seen[name] == 0 {
				t.Errorf("the fixed seeds compared no %s: choose others (with -v, FERRY_DIFF_SEED=N logs what seed N compares)", name)
			}
		}
	}
}

// aclKinds are the kinds of replies a run counts in what it compared.
var aclKinds = []struct {
	name string
	re   *regexp.Regexp
}{
	{"WRONGPASS", regexp.MustCompile(`^-WRONGPASS `)},
	{"NOAUTH", regexp.MustCompile(`^-NOAUTH `)},
	{"NOPERM for a command", regexp.MustCompile(`^-NOPERM this user has no permissions to run the '[a-z|]+' command`)},
	{"NOPERM for a subcommand", regexp.MustCompile(`^-NOPERM this user has no permissions to run the '[a-z]+\|[a-z]+' command`)},
	{"NOPERM for a key", regexp.MustCompile(`^-NOPERM [^\r]*keys`)},
	{"NOPERM for a channel", regexp.MustCompile(`^-NOPERM [^\r]*channels`)},
	{"NOPERM at EXEC", regexp.MustCompile(`-NOPERM ACLs rules changed`)},
	{"EXECABORT", regexp.MustCompile(`^-EXECABORT`)},
	{"script denied", regexp.MustCompile(`The user executing the script`)},
	{"SORT BY/GET denied", regexp.MustCompile(`option of SORT denied`)},
	{"ACL SETUSER error", regexp.MustCompile(`^-ERR Error in ACL SETUSER modifier`)},
	{"selector in GETUSER", regexp.MustCompile(`\$9\r\nselectors\r\n[*~]1`)},
	{"DRYRUN denied", regexp.MustCompile(`^\$[0-9]+\r\nThis user has no permissions`)},
	{"ACL LOG entry (command)", regexp.MustCompile(`\$6\r\nreason\r\n\$7\r\ncommand\r\n`)},
	{"ACL LOG entry (key)", regexp.MustCompile(`\$6\r\nreason\r\n\$3\r\nkey\r\n`)},
	{"ACL LOG entry (channel)", regexp.MustCompile(`\$6\r\nreason\r\n\$7\r\nchannel\r\n`)},
	{"ACL LOG entry (auth)", regexp.MustCompile(`\$6\r\nreason\r\n\$4\r\nauth\r\n`)},
	{"ACL LOG entry (lua)", regexp.MustCompile(`\$7\r\ncontext\r\n\$3\r\nlua\r\n`)},
	{"ACL LOG entry (multi)", regexp.MustCompile(`\$7\r\ncontext\r\n\$5\r\nmulti\r\n`)},
	{"message", regexp.MustCompile(`^[>*]3\r\n\$7\r\nmessage\r\n`)},
	{"pmessage", regexp.MustCompile(`^[>*]4\r\n\$8\r\npmessage\r\n`)},
	{"smessage", regexp.MustCompile(`^[>*]3\r\n\$8\r\nsmessage\r\n`)},
	{"closed connection", regexp.MustCompile(`^<closed>$`)},
}

// aclLogins are the kinds of logins follow counts with them.
var aclLogins = []string{"AUTH as a test user", "HELLO AUTH as a test user"}

// TestACLRequirepassUnchanged: CONFIG SET requirepass to the value it
// already has changes nothing, even when ACL SETUSER default changed the
// default user's passwords since (Redis skips the update of a setting
// whose value does not change). Found by TestRandomACLAgainstRedis.
func TestACLRequirepassUnchanged(t *testing.T) {
	addrs := aclServers(t)
	var conns [2]*redistest.Conn
	for srv := range 2 {
		conns[srv] = redistest.Dial(t, addrs[srv])
	}
	for _, c := range [][]string{
		{"CONFIG", "SET", "requirepass", "p1"}, {"ACL", "SETUSER", "default", "nopass"},
		{"CONFIG", "SET", "requirepass", "p1"}, {"ACL", "GETUSER", "default"}, {"AUTH", "x"},
		{"CONFIG", "SET", "requirepass", ""}, {"ACL", "SETUSER", "default", ">p2"},
		{"CONFIG", "SET", "requirepass", ""}, {"ACL", "GETUSER", "default"}, {"AUTH", "x"},
		{"CONFIG", "GET", "requirepass"}, {"ACL", "SETUSER", "default", "nopass"},
	} {
		if f, w := conns[onFerry].Do(c...), conns[onRedis].Do(c...); f != w {
			t.Errorf("%s:\n ferry: %q\n redis: %q", aclQuote(c), f, w)
		}
	}
}

// aclServers starts the two servers compared: ferry and redis-server, or
// with FERRY_ACL_TWO_REDIS=1 two redis-servers (to check the
// normalization).
func aclServers(t *testing.T) [2]string {
	addrs, _ := aclServersWithFiles(t)
	return addrs
}

// aclServersWithFiles is aclServers with an ACL file (aclfile) each,
// empty at first: it returns their paths too.
func aclServersWithFiles(t *testing.T) (addrs, files [2]string) {
	for srv := range 2 {
		files[srv] = filepath.Join(t.TempDir(), "users.acl")
		if err := os.WriteFile(files[srv], nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if os.Getenv("FERRY_ACL_TWO_REDIS") == "1" {
		return [2]string{redistest.Redis(t, "--aclfile", files[0]), redistest.Redis(t, "--aclfile", files[1])}, files
	}
	p := newWirePair(t, command.Config{ACLFile: files[onFerry]}, "--aclfile", files[onRedis])
	return [2]string{p.ferry, p.redis}, files
}

// The generator's names. aclUsers are the users the test creates and
// deletes (the default user is never changed: the control connections
// use it); "bad name" is refused by ACL SETUSER.
var (
	aclUsers     = []string{"alice", "bob", "carol"}
	aclAuthUsers = []string{"alice", "bob", "carol", "alice", "bob", "default", "nobody"}
	aclPasswords = []string{"p1", "p2", "p3"}
	aclKeys      = []string{"k1", "k2", "kx:1", "kx:2", "o1"}
	aclKeyPats   = []string{"k*", "k1", "kx:*", "*2", "o*", "kx:?", "k[12]"}
	aclSortPats  = []string{"kx:*", "o*", "k*", "#", "kx:*->f"}
	aclChannels  = []string{"ch1", "ch2", "news.a", "nx"}
	aclChanPats  = []string{"ch*", "ch1", "news.*", "n*", "*", "ch?", "ch[12]"}
	aclCommands  = []string{
		"get", "set", "hset", "lpush", "del", "copy", "rename", "sort", "mget", "lrange",
		"publish", "subscribe", "psubscribe", "unsubscribe", "spublish", "ssubscribe", "eval", "fcall", "multi", "exec",
		"ping", "client", "acl", "auth", "hello",
	}
	aclSubcommands = []string{"acl|whoami", "acl|setuser", "acl|deluser", "client|kill", "config|get", "acl|log"}
	aclCategories  = []string{
		"read", "write", "keyspace", "string", "hash", "list", "pubsub", "scripting",
		"dangerous", "admin", "connection", "slow", "fast", "transaction", "all",
	}
)

// aclHash is the SHA-256 of password p in hex, as #hash rules take it.
func aclHash(p string) string {
	h := sha256.Sum256([]byte(p))
	return hex.EncodeToString(h[:])
}

// aclTrace, set by FERRY_ACL_TRACE=1, adds what each connection received
// (from redis-server) to the history a failure prints, and prints the
// history of a run that passes too.
var aclTrace = os.Getenv("FERRY_ACL_TRACE") == "1"

// aclSlot is one connection to each server.
type aclSlot struct {
	label string
	conns [2]*redistest.Conn
	// user is the user the slot logged in as last (a guess of the
	// generator's, to aim ACL SETUSER in transactions at it).
	user string
	// subs and ssubs are the slot's numbers of subscriptions (to
	// channels and patterns, to shard channels), from the last
	// confirmations it received (see avoidSelfKill).
	subs, ssubs int
	// proto is the slot's protocol, 2 or 3: in RESP2, a slot with
	// subscriptions can run little else.
	proto int
}

// subscribed reports whether the slot has subscriptions of any kind.
func (s *aclSlot) subscribed() bool { return s.subs+s.ssubs > 0 }

// aclStep is one step: commands pipelined to a slot's connection, or (slot
// -1) to the control connection.
type aclStep struct {
	slot int
	cmds [][]string
	// unsubAll: UNSUBSCRIBE without arguments, whose confirmations follow
	// a dict.
	unsubAll bool
	// peek: the slot's one command cannot close a connection and the slot
	// has no subscriptions, so its one reply is read without a marker,
	// and CLIENT LIST compared before the marker makes the slot's cmd=
	// NULL (what a command sets it to, refused or not).
	peek bool
}

// aclRun is one seed's run.
type aclRun struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	addrs [2]string
	files [2]string          // the servers' ACL files
	ctl   [2]*redistest.Conn // default user, RESP2
	ctl3  [2]*redistest.Conn // default user, RESP3
	slots []*aclSlot
	next  int
	seq   int
	hist  []string
	seen  map[string]int // aclKinds compared, by name
}

// newACLRun flushes both servers, empties their ACL LOGs, opens the
// control connections and four slots, and creates the test users.
func newACLRun(t *testing.T, addrs [2]string, seed uint64) *aclRun {
	r := &aclRun{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0xac1)), addrs: addrs}
	for srv := range 2 {
		r.ctl[srv] = redistest.Dial(t, addrs[srv])
		r.ctl3[srv] = redistest.Dial(t, addrs[srv])
		r.ctl3[srv].Do("HELLO", "3")
	}
	setup := [][]string{{"FLUSHALL"}, {"ACL", "LOG", "RESET"}, {"FUNCTION", "FLUSH"}, {"FUNCTION", "LOAD", aclLibrary}}
	for _, c := range append(setup, aclDefaultBack...) {
		r.check(c, nil)
	}
	r.slots = make([]*aclSlot, 4)
	for i := range r.slots {
		r.open(i)
	}
	for _, u := range aclUsers {
		r.exec(aclStep{slot: -1, cmds: [][]string{append([]string{"ACL", "SETUSER", u, "on", ">" + aclPassword(u)}, pick(r.rng, aclBroad)...)}})
	}
	for i := range r.slots {
		r.login(i)
	}
	return r
}

// open gives slot i a new connection to each server (as the default
// user), and sends it a marker: once it is answered, the server lists the
// connection in CLIENT LIST (a dial returns before a server has accepted).
func (r *aclRun) open(i int) {
	s := &aclSlot{label: "c" + strconv.Itoa(r.next), user: "default", proto: 2}
	r.next++
	marker := "marker-" + s.label
	for srv := range 2 {
		s.conns[srv] = redistest.Dial(r.t, r.addrs[srv])
		s.conns[srv].WriteRaw(redistest.Encode(marker))
		if got := aclReadUntil(s.conns[srv], marker); got.closed || len(got.replies) != 1 {
			r.fail("new connection %s: %q", s.label, got.replies)
		}
	}
	r.slots[i] = s
	r.hist = append(r.hist, fmt.Sprintf("# slot %d: new connection %s", i, s.label))
}

// aclConfigs are the ACL settings a control step changes: the channels of
// new (and reset) users, the length of the ACL LOG.
var aclConfigs = [][]string{
	{"CONFIG", "SET", "acl-pubsub-default", "allchannels"}, {"CONFIG", "SET", "acl-pubsub-default", "resetchannels"},
	{"CONFIG", "SET", "acllog-max-len", "3"}, {"CONFIG", "SET", "acllog-max-len", "128"},
}

// aclDefaultBack gives the default user back the state it starts in, and
// requirepass and aclConfigs their first values.
var aclDefaultBack = [][]string{
	{"CONFIG", "SET", "requirepass", ""}, {"ACL", "SETUSER", "default", "on", "nopass"},
	{"CONFIG", "SET", "acl-pubsub-default", "resetchannels"}, {"CONFIG", "SET", "acllog-max-len", "128"},
}

// cleanup compares the last ACL LOG, deletes the users (which closes their
// connections), gives the default user back its state and closes the
// slots.
func (r *aclRun) cleanup() {
	r.checkLog()
	r.check(append([]string{"ACL", "DELUSER", "bad name"}, aclUsers...), nil)
	for _, c := range aclDefaultBack {
		r.check(c, nil)
	}
	for _, s := range r.slots {
		for _, c := range s.conns {
			c.Close()
		}
	}
}

// round is one round: users changed and inspected, steps, then ACL LOG.
func (r *aclRun) round() {
	for range 1 + r.rng.IntN(3) {
		r.exec(aclStep{slot: -1, cmds: [][]string{r.setuser(pick(r.rng, aclUsers))}})
	}
	r.inspect()
	for range 40 {
		switch n := r.rng.IntN(40); {
		case n < 2:
			r.exec(aclStep{slot: -1, cmds: [][]string{r.setuser(pick(r.rng, aclUsers))}})
		case n == 2:
			r.exec(aclStep{slot: -1, cmds: [][]string{{"ACL", "DELUSER", pick(r.rng, aclUsers)}}})
		case n == 3:
			r.exec(aclStep{slot: -1, cmds: [][]string{pick(r.rng, aclConfigs)}})
		case n == 4:
			r.saveLoad()
		default:
			r.exec(r.slotStep())
		}
	}
	r.inspect()
	r.checkLog()
}

// saveLoad runs ACL SAVE and compares the files written, then half the
// time ACL LOAD, which reads them back and closes the connections of
// every user but the default one.
func (r *aclRun) saveLoad() {
	r.exec(aclStep{slot: -1, cmds: [][]string{{"ACL", "SAVE"}}})
	var got [2]string
	for srv, f := range r.files {
		b, err := os.ReadFile(f)
		if err != nil {
			r.t.Fatal(err)
		}
		var lines []string
		for _, line := range strings.Split(string(b), "\n") {
			lines = append(lines, aclNormLine(line))
		}
		got[srv] = strings.Join(lines, "\n")
	}
	if got[onFerry] != got[onRedis] {
		r.fail("the ACL files ACL SAVE wrote:\n ferry: %q\n redis: %q", got[onFerry], got[onRedis])
	}
	switch r.rng.IntN(4) {
	case 0, 1:
		r.exec(aclStep{slot: -1, cmds: [][]string{{"ACL", "LOAD"}}})
	case 2:
		r.loadBroken()
	}
}

// aclBrokenLines are lines that make ACL LOAD fail (nothing changes then).
// Not a selector without its closing parenthesis ("user carol on (~k1"):
// redis-server 7.0.15 crashes loading it (ACLLoadFromFile goes on with
// the NULL ACLMergeSelectorArguments returned).
var aclBrokenLines = []string{
	"alice on", "user", "user alice on\nuser alice off", "user bob on +nosuch", "user bob on &* &a",
	"user carol on %X~k1", "user carol on >p1 #abc", "user bob on nosuchrule",
}

// loadBroken appends a bad line to both ACL files, and compares ACL LOAD's
// error (with the files' paths masked), then ACL SAVE writes them again.
func (r *aclRun) loadBroken() {
	line := pick(r.rng, aclBrokenLines)
	r.hist = append(r.hist, fmt.Sprintf("# both ACL files get the line %q", line))
	for _, f := range r.files {
		b, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(f, append(b, line+"\n"...), 0o600)
		}
		if err != nil {
			r.t.Fatal(err)
		}
	}
	var got [2]string
	for srv, c := range r.ctl {
		got[srv] = strings.ReplaceAll(c.Do("ACL", "LOAD"), r.files[srv], "FILE")
	}
	r.hist = append(r.hist, "ctl: \"ACL\" \"LOAD\"")
	if got[onFerry] != got[onRedis] {
		r.fail("ACL LOAD of a broken file:\n ferry: %q\n redis: %q", got[onFerry], got[onRedis])
	}
	r.exec(aclStep{slot: -1, cmds: [][]string{{"ACL", "SAVE"}}})
}

// inspect compares what both servers say of the users.
func (r *aclRun) inspect() {
	for _, u := range append([]string{"default", "nobody"}, aclUsers...) {
		if u == "default" || u == "nobody" {
			if r.rng.IntN(3) != 0 {
				continue
			}
		}
		r.check([]string{"ACL", "GETUSER", u}, aclNormGetuser)
		r.check3([]string{"ACL", "GETUSER", u}, aclNormGetuser)
	}
	r.check([]string{"ACL", "LIST"}, aclNormList)
	r.check3([]string{"ACL", "LIST"}, aclNormList)
	r.check([]string{"ACL", "USERS"}, nil)
	r.check([]string{"CLIENT", "LIST"}, aclNormClientList)
	r.check([]string{"CONFIG", "GET", "requirepass"}, nil)
	r.check([]string{"CONFIG", "GET", "acl*"}, aclNormConfig)
	for range 4 {
		r.check(append([]string{"ACL", "DRYRUN", pick(r.rng, aclAuthUsers)}, r.dryrunCmd()...), nil)
	}
	r.check(pick(r.rng, aclBadCalls), nil)
	if r.rng.IntN(4) == 0 {
		// ACL CAT lists the categories in a set order, a category's
		// commands walking the command table (a dict).
		r.check([]string{"ACL", "CAT"}, nil)
		r.check([]string{"ACL", "CAT", pick(r.rng, append([]string{"nosuch"}, aclCategories...))}, aclNormSet)
	}
}

// aclNormSet sorts the elements of an aggregate reply.
func aclNormSet(rep string) string { return redistest.SortReply(rep, false) }

// aclBadCalls are ACL commands with missing, extra or wrong arguments.
var aclBadCalls = [][]string{
	{"ACL", "LOG", "x"}, {"ACL", "LOG", "-1"}, {"ACL", "LOG", "0"}, {"ACL", "GETUSER"}, {"ACL", "DELUSER"},
	{"ACL", "SETUSER"}, {"ACL", "WHOAMI", "x"}, {"ACL", "DRYRUN", "alice"}, {"ACL", "USERS", "x"},
	{"ACL", "LIST", "x"}, {"ACL", "NOSUCH"}, {"ACL", "GETUSER", "alice", "bob"}, {"ACL", "DELUSER", "nobody", "nobody2"},
	{"ACL", "DRYRUN", "alice", "GET"}, {"ACL", "DRYRUN", "alice", "ACL", "NOSUCH"}, {"ACL", "DRYRUN", "alice", "CONFIG", "GET"},
}

// checkLog compares ACL LOG in both protocols, then resets it.
func (r *aclRun) checkLog() {
	r.check([]string{"ACL", "LOG"}, aclNormLog)
	r.check3([]string{"ACL", "LOG", "5"}, aclNormLog)
	r.check([]string{"ACL", "LOG", "RESET"}, nil)
}

// check sends a command that changes nothing to the RESP2 control
// connections and compares the normalized replies.
func (r *aclRun) check(args []string, norm func(string) string) {
	r.t.Helper()
	r.checkOn(r.ctl, "ctl", args, norm)
}

// check3 is check on the RESP3 control connections.
func (r *aclRun) check3(args []string, norm func(string) string) {
	r.t.Helper()
	r.checkOn(r.ctl3, "ctl3", args, norm)
}

// checkOn is check on conns, named name in the history.
func (r *aclRun) checkOn(conns [2]*redistest.Conn, name string, args []string, norm func(string) string) {
	r.t.Helper()
	r.hist = append(r.hist, name+": "+aclQuote(args))
	var got [2]string
	for srv, c := range conns {
		got[srv] = c.Do(args...)
		if norm != nil {
			got[srv] = norm(got[srv])
		}
	}
	if got[onFerry] != got[onRedis] {
		r.fail("%s %s:\n ferry: %q\n redis: %q", name, aclQuote(args), got[onFerry], got[onRedis])
	}
	r.count([]string{got[onRedis]})
	if aclTrace {
		r.hist = append(r.hist, fmt.Sprintf("#   got %q", got[onRedis]))
	}
}

// count adds the kinds of replies in reps to r.seen.
func (r *aclRun) count(reps []string) {
	if r.seen == nil {
		return
	}
	for _, rep := range reps {
		for _, k := range aclKinds {
			if k.re.MatchString(rep) {
				r.seen[k.name]++
			}
		}
	}
}

// exec runs st on both servers, and compares what every connection
// received; closed slots get new connections.
func (r *aclRun) exec(st aclStep) {
	r.t.Helper()
	who := "ctl"
	if st.slot >= 0 {
		who = fmt.Sprintf("slot %d (%s)", st.slot, r.slots[st.slot].label)
	}
	var lines []string
	for _, c := range st.cmds {
		lines = append(lines, aclQuote(c))
	}
	line := who + ": " + strings.Join(lines, " | ")
	if st.peek {
		line += "  (then CLIENT LIST on ctl)"
	}
	r.hist = append(r.hist, line)
	r.seq++
	m1, m2 := "marker-"+strconv.Itoa(r.seq)+"a", "marker-"+strconv.Itoa(r.seq)+"b"
	var got [2][]stream
	var ctlGot [2]string
	for srv := range 2 {
		ctlGot[srv], got[srv] = r.drain(srv, st, m1, m2)
	}
	if ctlGot[onFerry] != ctlGot[onRedis] {
		what := "ctl received"
		if st.peek {
			what = "CLIENT LIST after the step's command"
		}
		r.fail("%s:\n ferry: %q\n redis: %q", what, ctlGot[onFerry], ctlGot[onRedis])
	}
	for i, s := range r.slots {
		f, w := aclNormStream(st, i, got[onFerry][i]), aclNormStream(st, i, got[onRedis][i])
		if f != w {
			r.fail("slot %d (%s) received:\n ferry: %q\n redis: %q", i, s.label, f, w)
		}
		r.count(got[onRedis][i].replies)
		if aclTrace {
			r.hist = append(r.hist, fmt.Sprintf("#   %s got %q", s.label, w))
		}
	}
	r.count([]string{ctlGot[onRedis]})
	if aclTrace {
		r.hist = append(r.hist, fmt.Sprintf("#   ctl got %q", ctlGot[onRedis]))
	}
	if st.slot >= 0 {
		r.track(st, got[onRedis][st.slot].replies)
	}
	r.reopen(got[onRedis])
}

// track updates what the generator knows of the acting slot of st from
// the replies redis-server sent it: its subscriptions, its user.
func (r *aclRun) track(st aclStep, reps []string) {
	s := r.slots[st.slot]
	for _, rep := range reps {
		n := trailingInt.FindString(rep)
		if n == "" {
			continue
		}
		count, _ := strconv.Atoi(strings.TrimSuffix(n[1:], "\r\n"))
		switch pubsubKind(rep) {
		case "subscribe", "psubscribe", "unsubscribe", "punsubscribe":
			s.subs = count
		case "ssubscribe", "sunsubscribe":
			s.ssubs = count
		}
	}
	if len(st.cmds) == 1 {
		r.follow(s, st.cmds[0], reps[0])
	}
}

// reopen gives the slots that got closed (on redis-server) during a step
// new connections.
func (r *aclRun) reopen(got []stream) {
	var reopened []int
	for i, s := range r.slots {
		if got[i].closed {
			for _, c := range s.conns {
				c.Close()
			}
			r.open(i)
			reopened = append(reopened, i)
		}
	}
	for _, i := range reopened {
		r.login(i)
	}
}

// follow updates s.user after cmd, to which redis-server replied rep, and
// counts the logins as a test user.
func (r *aclRun) follow(s *aclSlot, cmd []string, rep string) {
	login := ""
	switch {
	case cmd[0] == "RESET":
		s.user = "default"
		s.subs, s.ssubs, s.proto = 0, 0, 2
	case cmd[0] == "AUTH" && rep == "+OK\r\n":
		s.user = cmd[len(cmd)-2]
		if len(cmd) == 2 {
			s.user = "default"
		}
		login = "AUTH as a test user"
	case cmd[0] == "HELLO" && (rep[0] == '*' || rep[0] == '%'):
		s.user = cmd[3]
		s.proto, _ = strconv.Atoi(cmd[1])
		login = "HELLO AUTH as a test user"
	}
	if login != "" && s.user != "default" && r.seen != nil {
		r.seen[login]++
	}
}

// login logs slot i's new connection in as a test user two times in
// three, so that fewer steps run as the default user.
func (r *aclRun) login(i int) {
	if r.rng.IntN(3) != 0 {
		u := pick(r.rng, aclUsers)
		r.exec(aclStep{slot: i, cmds: [][]string{{"AUTH", u, aclPassword(u)}}})
	}
}

// drain sends st to server srv, then markers to every slot, and
// returns what the control connection and every slot received.
func (r *aclRun) drain(srv int, st aclStep, m1, m2 string) (string, []stream) {
	out := make([]stream, len(r.slots))
	var buf []byte
	for _, c := range st.cmds {
		buf = append(buf, redistest.Encode(c...)...)
	}
	var ctl string
	if st.slot < 0 {
		r.ctl[srv].WriteRaw(buf)
		for range st.cmds {
			ctl += r.ctl[srv].Read()
		}
	} else {
		act := r.slots[st.slot].conns[srv]
		marker := redistest.Encode(m1)
		if st.peek {
			act.Net().Write(buf)
			rep, err := act.ReadTimeout(5 * time.Second)
			out[st.slot].replies = append(out[st.slot].replies, rep+errText(err))
			ctl = aclNormClientList(r.ctl[srv].Do("CLIENT", "LIST"))
		} else {
			marker = append(buf, marker...)
		}
		act.Net().Write(marker) // a write error shows as a close
		more := aclReadUntil(act, m1)
		out[st.slot].replies = append(out[st.slot].replies, more.replies...)
		out[st.slot].closed = more.closed
	}
	// One slot after the other: the server must see the markers in the
	// same order, since a denied marker's ACL LOG entry keeps the
	// client-info of the last client denied.
	for i, s := range r.slots {
		if !out[i].closed {
			s.conns[srv].Net().Write(redistest.Encode(m2))
			more := aclReadUntil(s.conns[srv], m2)
			out[i].replies = append(out[i].replies, more.replies...)
			out[i].closed = more.closed
		}
	}
	return ctl, out
}

// aclReadUntil reads c's replies up to the reply to the marker command
// (see TestRandomACLAgainstRedis), or until c is closed.
func aclReadUntil(c *redistest.Conn, marker string) stream {
	var s stream
	want := "-ERR unknown command '" + marker + "', with args beginning with: \r\n"
	for {
		rep, err := c.ReadTimeout(5 * time.Second)
		if err != nil {
			s.replies = append(s.replies, errText(err))
			s.closed = true
			return s
		}
		s.replies = append(s.replies, rep)
		if rep == want {
			return s
		}
	}
}

// fail stops the run, printing the seed and the steps so far.
func (r *aclRun) fail(format string, a ...any) {
	r.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (FERRY_DIFF_SEED=%d); after FLUSHALL and ACL LOG RESET, the steps (each ctl or slot step followed by markers on every slot):\n", r.seed, r.seed)
	for _, h := range r.hist {
		b.WriteString("  " + h + "\n")
	}
	r.t.Fatalf("%s%s", b.String(), fmt.Sprintf(format, a...))
}

// aclQuote is a command as a history line.
func aclQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

// aclPassword is the password the generator gives user name most often
// (so that AUTH succeeds often enough).
func aclPassword(name string) string {
	if i := slices.Index(aclUsers, name); i >= 0 {
		return aclPasswords[i]
	}
	return "p1"
}

// aclBroad are rule lists that let a user run much, to be narrowed by
// key and channel patterns and by the rules that follow.
var aclBroad = [][]string{
	{"+@all"}, {"allcommands"}, {"+@all", "-@dangerous"}, {"+@read", "+@write", "+@pubsub"},
	{"+@all", "allkeys"}, {"+@all", "allchannels"}, {"+@all", "-ping"},
	{"+@all", "~k*"}, {"+@all", "%R~k*", "~o*", "&ch*"}, {"allcommands", "&news.*", "~kx:*", "%W~k1"},
}

// setuser is ACL SETUSER name with 0 to 6 random rules. Two times in
// three they start with on and the user's password, so that the user can
// log in, and half of those times with rules that allow much (aclBroad).
// One time in 40 the name is "bad name", which Redis refuses; one time in
// 25 it is the default user's passwords that change (defaultRules, or
// CONFIG SET requirepass).
func (r *aclRun) setuser(name string) []string {
	if r.rng.IntN(40) == 0 {
		name = "bad name"
	}
	args := []string{"ACL", "SETUSER", name}
	if r.rng.IntN(25) == 0 {
		if r.rng.IntN(3) == 0 {
			// requirepass is the default user's one password, or nopass.
			return []string{"CONFIG", "SET", "requirepass", pick(r.rng, []string{"p1", "p2", ""})}
		}
		return append([]string{"ACL", "SETUSER", "default"}, r.defaultRules()...)
	}
	if r.rng.IntN(3) != 0 {
		args = append(args, "on", ">"+aclPassword(name))
		if r.rng.IntN(2) == 0 {
			args = append(args, pick(r.rng, aclBroad)...)
		}
	}
	for range r.rng.IntN(7) {
		args = append(args, r.rule()...)
	}
	return args
}

// defaultRules are rules for the default user: its passwords and on/off
// only, since the control connections run as it (connections stay
// authenticated when it gets a password or is turned off; new ones must
// then authenticate).
func (r *aclRun) defaultRules() []string {
	rules := []string{pick(r.rng, []string{"resetpass", ">p1", "nopass", "on"})}
	if r.rng.IntN(2) == 0 {
		rules = append(rules, pick(r.rng, []string{"<p1", ">p2", "off", "on", "nopass", "#" + aclHash("p3")}))
	}
	return rules
}

// rule is one random rule (a selector split in several arguments is more
// than one).
func (r *aclRun) rule() []string {
	switch n := r.rng.IntN(100); {
	case n < 20:
		return []string{r.userRule()}
	case n < 55:
		return []string{r.commandRule()}
	case n < 70:
		return []string{r.keyRule()}
	case n < 80:
		return []string{r.channelRule()}
	case n < 90:
		return r.selector()
	case n < 93:
		return []string{"clearselectors"}
	case n < 95:
		return []string{"reset"}
	}
	return []string{pick(r.rng, []string{"garbage", "", "ON OFF", "+", "-", "@read", "~k1 ~k2", "allkeys resetkeys", "sanitize-payload", "skip-sanitize-payload"})}
}

// userRule is on/off or a password rule.
func (r *aclRun) userRule() string {
	p := pick(r.rng, aclPasswords)
	switch r.rng.IntN(14) {
	case 0, 1:
		return pick(r.rng, []string{"on", "ON"})
	case 2:
		return "off"
	case 3, 4:
		return ">" + p
	case 5:
		return "<" + p
	case 6:
		return "#" + aclHash(p)
	case 7:
		return "!" + aclHash(p)
	case 8:
		return "nopass"
	case 9:
		return "resetpass"
	case 10:
		return "#" + strings.ToUpper(aclHash(p))
	case 11:
		return "#" + aclHash(p)[:40]
	case 12:
		return "!" + aclHash("never")
	}
	return ">"
}

// commandRule is a command, subcommand, first-argument or category rule,
// now and then an unknown one.
func (r *aclRun) commandRule() string {
	sign := pick(r.rng, []string{"+", "+", "-"})
	switch r.rng.IntN(12) {
	case 0, 1, 2, 3:
		return sign + pick(r.rng, aclCommands)
	case 4:
		return sign + strings.ToUpper(pick(r.rng, aclCommands))
	case 5:
		return sign + pick(r.rng, aclSubcommands)
	case 6, 7, 8:
		return sign + "@" + pick(r.rng, aclCategories)
	case 9:
		return pick(r.rng, []string{"allcommands", "nocommands", "+@all", "-@all"})
	case 10:
		// First arguments of commands without subcommands (deprecated in
		// 7.0, still taken), and their errors.
		return pick(r.rng, []string{"+select|0", "+get|k1", "-get|k1", "+get|", "+config|get|maxmemory", "+acl|nosuch"})
	}
	return pick(r.rng, []string{"+nosuch", "-nosuch", "+@nosuch", "+@READ", "-@Write"})
}

// keyRule is a key pattern rule (read, write or both), or allkeys and
// resetkeys, now and then an invalid one.
func (r *aclRun) keyRule() string {
	p := pick(r.rng, aclKeyPats)
	switch r.rng.IntN(12) {
	case 0, 1, 2:
		return "~" + p
	case 3:
		return "%R~" + p
	case 4:
		return "%W~" + p
	case 5:
		return pick(r.rng, []string{"%RW~", "%WR~", "%rw~"}) + p
	case 6:
		return pick(r.rng, []string{"allkeys", "~*"})
	case 7:
		return "resetkeys"
	case 8:
		return pick(r.rng, []string{"%~", "%X~", "%RR~", "%R"}) + p
	case 9:
		return "~a b"
	}
	return "~"
}

// channelRule is a channel pattern rule, allchannels or resetchannels.
func (r *aclRun) channelRule() string {
	switch r.rng.IntN(6) {
	case 0, 1, 2:
		return "&" + pick(r.rng, aclChanPats)
	case 3:
		return pick(r.rng, []string{"allchannels", "&*"})
	case 4:
		return "resetchannels"
	}
	return pick(r.rng, []string{"&", "&a b"})
}

// selector is a selector of 1 to 3 rules: one argument, or split across
// several (Redis joins them), or missing its closing parenthesis.
func (r *aclRun) selector() []string {
	var rules []string
	for range 1 + r.rng.IntN(3) {
		switch r.rng.IntN(7) {
		case 0, 1, 2:
			rules = append(rules, r.commandRule())
		case 3, 4:
			rules = append(rules, r.keyRule())
		case 5:
			rules = append(rules, r.channelRule())
		default:
			rules = append(rules, pick(r.rng, []string{"on", "reset", ">p1", "clearselectors"}))
		}
	}
	switch r.rng.IntN(6) {
	case 0, 1:
		rules[0] = "(" + rules[0]
		rules[len(rules)-1] += ")"
		return rules
	case 2:
		return []string{"(" + strings.Join(rules, " ")}
	case 3:
		return []string{"()"}
	}
	return []string{"(" + strings.Join(rules, " ") + ")"}
}

// dryrunCmd is a command for ACL DRYRUN.
func (r *aclRun) dryrunCmd() []string {
	switch r.rng.IntN(10) {
	case 0:
		return []string{pick(r.rng, []string{"PUBLISH", "SPUBLISH"}), pick(r.rng, aclChannels), "x"}
	case 1:
		return []string{pick(r.rng, []string{"SUBSCRIBE", "SSUBSCRIBE"}), pick(r.rng, aclChannels), pick(r.rng, aclChannels)}
	case 2:
		return []string{"PSUBSCRIBE", pick(r.rng, aclChanPats)}
	case 3:
		return pick(r.rng, [][]string{{"ACL", "WHOAMI"}, {"CLIENT", "KILL", "USER", "x"}, {"CONFIG", "GET", "maxmemory"}, {"SELECT", "0"}, {"PING"}, {"NOSUCH", "x"}, {"GET"}, {"ACL", "NOSUCH"}})
	case 4:
		return r.evalCmd()
	}
	return r.keyCmd()
}

// slotStep is a random step on a random slot, now and then a peek (see
// aclStep).
func (r *aclRun) slotStep() aclStep {
	st := r.pickSlotStep()
	if len(st.cmds) == 1 && aclPeekable(st.cmds[0]) && !r.slots[st.slot].subscribed() && r.rng.IntN(4) == 0 {
		st.peek = true
	}
	return st
}

// aclPeekable reports whether cmd gets one reply and closes no connection
// (see aclStep's peek).
func aclPeekable(cmd []string) bool {
	switch strings.ToUpper(cmd[0]) {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
		return false
	case "CLIENT":
		return !strings.EqualFold(cmd[1], "KILL")
	case "ACL":
		return strings.EqualFold(cmd[1], "WHOAMI")
	}
	return true
}

// pickSlotStep is a random step on a random slot.
func (r *aclRun) pickSlotStep() aclStep {
	i := r.rng.IntN(len(r.slots))
	// A RESP2 subscriber can only (un)subscribe, PING and RESET: give it
	// those mostly, and now and then anything (an error to compare).
	if s := r.slots[i]; s.proto == 2 && s.subscribed() && r.rng.IntN(3) != 0 {
		if r.rng.IntN(4) == 0 {
			return aclStep{slot: i, cmds: [][]string{{"RESET"}}}
		}
		return r.pubsubStep(i)
	}
	switch n := r.rng.IntN(100); {
	case n < 16:
		return aclStep{slot: i, cmds: [][]string{r.authCmd()}}
	case n < 44:
		return aclStep{slot: i, cmds: [][]string{r.keyCmd()}}
	case n < 52:
		return aclStep{slot: i, cmds: [][]string{r.publishCmd()}}
	case n < 64:
		return r.pubsubStep(i)
	case n < 74:
		return aclStep{slot: i, cmds: [][]string{r.evalCmd()}}
	case n < 84:
		return aclStep{slot: i, cmds: r.multiCmds(i)}
	case n < 87:
		kill := []string{"CLIENT", "KILL", "USER", pick(r.rng, append([]string{"nobody"}, aclUsers...))}
		if r.rng.IntN(3) == 0 {
			kill = append(kill, "SKIPME", "no")
		}
		return aclStep{slot: i, cmds: [][]string{kill}}
	case n < 90:
		return aclStep{slot: i, cmds: [][]string{{"ACL", "WHOAMI"}}}
	case n < 92:
		// First arguments (+select|0) and subcommands (+config|get), and a
		// name CLIENT LIST shows.
		return aclStep{slot: i, cmds: [][]string{pick(r.rng, [][]string{
			{"SELECT", "0"}, {"SELECT", "1"}, {"CONFIG", "GET", "maxmemory"}, {"CLIENT", "SETNAME", "n" + r.slots[i].label},
		})}}
	case n < 93:
		return aclStep{slot: i, cmds: [][]string{{"ACL", "DELUSER", pick(r.rng, aclAuthUsers)}}}
	case n < 96:
		return aclStep{slot: i, cmds: [][]string{{"RESET"}}}
	}
	if r.slots[i].subscribed() {
		return aclStep{slot: i, cmds: [][]string{{"ACL", "WHOAMI"}}} // see avoidSelfKill
	}
	return aclStep{slot: i, cmds: [][]string{r.setuser(pick(r.rng, aclUsers))}}
}

// avoidSelfKill: redis-server 7.0.15 crashes (SIGSEGV in call()) when a
// client with subscriptions runs ACL SETUSER that takes channels away from
// its own user (ACLKillPubsubClientsIfNeeded frees the client running the
// command): HELLO 3 AUTH alice p1, SUBSCRIBE ch1, ACL SETUSER alice
// resetchannels. So a slot with subscriptions runs no ACL SETUSER (the
// control connection changes users that have subscribers instead).

// authCmd is AUTH or HELLO with AUTH, as a test user mostly.
func (r *aclRun) authCmd() []string {
	user := pick(r.rng, aclAuthUsers)
	pass := pick(r.rng, append([]string{"wrong"}, aclPasswords...))
	if r.rng.IntN(3) != 0 {
		pass = aclPassword(user)
	}
	switch r.rng.IntN(6) {
	case 0:
		return []string{"AUTH", pass}
	case 1, 2:
		return []string{"HELLO", pick(r.rng, []string{"2", "3"}), "AUTH", user, pass}
	}
	return []string{"AUTH", user, pass}
}

// keyCmd is a command on random keys.
func (r *aclRun) keyCmd() []string {
	k := func() string { return pick(r.rng, aclKeys) }
	switch r.rng.IntN(14) {
	case 0:
		return []string{"GET", k()}
	case 1:
		return []string{"SET", k(), "v"}
	case 2:
		return []string{"SET", k(), "v", "GET"}
	case 3:
		return []string{"HSET", k(), "f", "1"}
	case 4:
		return []string{"LPUSH", k(), "3", "1", "2"}
	case 5:
		return []string{"DEL", k(), k()}
	case 6:
		if r.rng.IntN(2) == 0 {
			return []string{"COPY", k(), k(), "REPLACE"}
		}
		return []string{"COPY", k(), k()}
	case 7:
		return []string{"RENAME", k(), k()}
	case 8:
		return []string{"MGET", k(), k(), k()}
	case 9:
		return []string{"LRANGE", k(), "0", "-1"}
	case 10, 11, 12:
		return r.otherKeyCmd(k)
	}
	args := []string{"SORT", k()}
	if r.rng.IntN(2) == 0 {
		args = append(args, "BY", pick(r.rng, aclSortPats))
	}
	for range r.rng.IntN(3) {
		args = append(args, "GET", pick(r.rng, aclSortPats))
	}
	return args
}

// otherKeyCmd is a command of another kind of key access (read, write,
// both or neither: EXISTS and TYPE need no permission of either kind).
// Not OBJECT ENCODING: after APPEND or SETRANGE Redis says raw and ferry
// embstr, a difference README.md documents.
func (r *aclRun) otherKeyCmd(k func() string) []string {
	return pick(r.rng, [][]string{
		{"EXISTS", k(), k()}, {"TYPE", k()}, {"GETDEL", k()}, {"APPEND", k(), "a"},
		{"LMOVE", k(), k(), "LEFT", "RIGHT"}, {"SUNIONSTORE", k(), k(), k()}, {"MSET", k(), "1", k(), "2"},
		{"STRLEN", k()}, {"TOUCH", k()}, {"EXPIRE", k(), "1000"}, {"TTL", k()}, {"GETRANGE", k(), "0", "1"},
		{"SETRANGE", k(), "1", "x"}, {"RPOPLPUSH", k(), k()}, {"SINTERCARD", "2", k(), k()}, {"LCS", k(), k()},
		{"SORT", k(), "ALPHA", "STORE", k()}, {"BITOP", "AND", k(), k(), k()}, {"GEOADD", k(), "1", "1", "m"},
		{"GEORADIUS", k(), "1", "1", "10", "km", "STORE", k()}, {"XADD", k(), "1-1", "f", "v"}, {"XLEN", k()},
		{"PFADD", k(), "a"}, {"EVAL_RO", "return redis.call('get', KEYS[1])", "1", k()},
		{"BITFIELD", k(), "GET", "u8", "0"}, {"BITFIELD", k(), "SET", "u8", "0", "1"}, {"BITFIELD_RO", k(), "GET", "u8", "0"},
		{"GETEX", k(), "PERSIST"}, {"SORT_RO", k(), "ALPHA"}, {"LPOS", k(), "1"}, {"SMOVE", k(), k(), "1"},
	})
}

// publishCmd is PUBLISH or SPUBLISH with a payload unique in the run (see
// pmessageFrame).
func (r *aclRun) publishCmd() []string {
	return []string{pick(r.rng, []string{"PUBLISH", "PUBLISH", "SPUBLISH"}), pick(r.rng, aclChannels), "m" + strconv.Itoa(r.seq)}
}

// pubsubStep is SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE or their opposites.
func (r *aclRun) pubsubStep(i int) aclStep {
	switch r.rng.IntN(8) {
	case 6:
		return aclStep{slot: i, cmds: [][]string{append([]string{"SSUBSCRIBE"}, r.some(aclChannels)...)}}
	case 7:
		// Not without arguments: the confirmations would follow a dict.
		return aclStep{slot: i, cmds: [][]string{{"SUNSUBSCRIBE", pick(r.rng, aclChannels)}}}
	case 0, 1:
		return aclStep{slot: i, cmds: [][]string{append([]string{"SUBSCRIBE"}, r.some(aclChannels)...)}}
	case 2, 3:
		return aclStep{slot: i, cmds: [][]string{append([]string{"PSUBSCRIBE"}, r.some(aclChanPats)...)}}
	case 4:
		if r.rng.IntN(2) == 0 {
			return aclStep{slot: i, cmds: [][]string{{"UNSUBSCRIBE"}}, unsubAll: true}
		}
		return aclStep{slot: i, cmds: [][]string{{"UNSUBSCRIBE", pick(r.rng, aclChannels)}}}
	}
	if r.rng.IntN(2) == 0 {
		return aclStep{slot: i, cmds: [][]string{{"PUNSUBSCRIBE"}}}
	}
	return aclStep{slot: i, cmds: [][]string{{"PUNSUBSCRIBE", pick(r.rng, aclChanPats)}}}
}

// some returns 1 or 2 elements of list.
func (r *aclRun) some(list []string) []string {
	out := []string{pick(r.rng, list)}
	if r.rng.IntN(2) == 0 {
		out = append(out, pick(r.rng, list))
	}
	return out
}

// aclScripts are EVAL's scripts and how many keys they declare.
var aclScripts = []struct {
	body string
	keys int
}{
	{"return redis.call('get', KEYS[1])", 1},
	{"return redis.call('set', KEYS[1], 'v')", 1},
	{"return redis.pcall('get', ARGV[1])", 0},
	{"return redis.pcall('set', ARGV[1], 'x')", 0},
	{"return redis.call('publish', ARGV[1], ARGV[2])", 0},
	{"return redis.pcall('acl', 'whoami')", 0},
	{"return redis.acl_check_cmd('get', ARGV[1])", 0},
	{"return redis.acl_check_cmd('set', ARGV[1], 'x')", 0},
	{"return redis.call('mget', KEYS[1], ARGV[1])", 1},
}

// evalCmd is EVAL of a random script on random keys and channels, or one
// time in three FCALL (fcallCmd).
func (r *aclRun) evalCmd() []string {
	if r.rng.IntN(3) == 0 {
		return r.fcallCmd()
	}
	s := pick(r.rng, aclScripts)
	args := []string{"EVAL", s.body, strconv.Itoa(s.keys)}
	if s.keys == 1 {
		args = append(args, pick(r.rng, aclKeys))
	}
	if strings.Contains(s.body, "publish") {
		return append(args, pick(r.rng, aclChannels), "m"+strconv.Itoa(r.seq))
	}
	return append(args, pick(r.rng, aclKeys))
}

// aclLibrary is the function library FCALL calls: functions that read,
// write and publish, one of them flagged no-writes.
const aclLibrary = `#!lua name=acllib
redis.register_function('aget', function(keys, args) return redis.call('get', keys[1]) end)
redis.register_function('aset', function(keys, args) return redis.pcall('set', args[1], 'v') end)
redis.register_function('apub', function(keys, args) return redis.call('publish', args[1], args[2]) end)
redis.register_function{function_name='aro', callback=function(keys, args) return redis.call('get', args[1]) end, flags={'no-writes'}}`

// fcallCmd is FCALL or FCALL_RO of a function of aclLibrary.
func (r *aclRun) fcallCmd() []string {
	k := func() string { return pick(r.rng, aclKeys) }
	return pick(r.rng, [][]string{
		{"FCALL", "aget", "1", k()}, {"FCALL", "aset", "0", k()}, {"FCALL_RO", "aro", "0", k()},
		{"FCALL", "apub", "0", pick(r.rng, aclChannels), "m" + strconv.Itoa(r.seq)}, {"FCALL_RO", "aget", "1", k()},
	})
}

// multiCmds is, for slot i, a transaction of 1 to 3 commands (some denied at queueing,
// some, such as the user's own ACL SETUSER, changing what the next may
// do), ended by EXEC mostly, else DISCARD.
func (r *aclRun) multiCmds(i int) [][]string {
	cmds := [][]string{{"MULTI"}}
	for range 1 + r.rng.IntN(3) {
		switch r.rng.IntN(9) {
		case 0, 1:
			if r.slots[i].subscribed() {
				cmds = append(cmds, []string{"ACL", "WHOAMI"}) // see avoidSelfKill
				continue
			}
			// Its own user, mostly: what the commands queued after it
			// may do changes before EXEC runs them.
			u := r.slots[i].user
			if u == "default" || r.rng.IntN(4) == 0 {
				u = pick(r.rng, aclUsers)
			}
			rule := pick(r.rng, []string{"-@all", "nocommands", "-@write", "-@read", "resetkeys", "resetchannels", "%R~k*", r.commandRule()})
			cmds = append(cmds, []string{"ACL", "SETUSER", u, rule})
		case 2:
			cmds = append(cmds, r.publishCmd())
		case 3:
			cmds = append(cmds, pick(r.rng, [][]string{{"ACL", "WHOAMI"}, r.authCmd(), {"CLIENT", "KILL", "USER", pick(r.rng, aclUsers)}}))
		default:
			cmds = append(cmds, r.keyCmd())
		}
	}
	if r.rng.IntN(8) == 0 {
		return append(cmds, []string{"DISCARD"})
	}
	return append(cmds, []string{"EXEC"})
}

// Replies' fields that differ between any two servers.
var (
	aclHelloID      = regexp.MustCompile(`\$2\r\nid\r\n:[0-9]+\r\n`)
	aclHelloVersion = regexp.MustCompile(`\$7\r\nversion\r\n\$[0-9]+\r\n[^\r]*\r\n`)
)

// aclNormStream is what slot i received during st, normalized.
func aclNormStream(st aclStep, i int, s stream) string {
	reps := slices.Clone(s.replies)
	if i == st.slot && st.unsubAll {
		reps = sortUnsubscribeRuns(reps)
	}
	out := strings.Join(reps, "")
	out = aclHelloID.ReplaceAllString(out, "$$2\r\nid\r\n:ID\r\n")
	out = aclHelloVersion.ReplaceAllString(out, "$$7\r\nversion\r\nVERSION")
	return sortRuns(out, pmessageFrame)
}

// aclCommandsField is a commands field of ACL GETUSER (of the user or of
// a selector).
var aclCommandsField = regexp.MustCompile(`\$8\r\ncommands\r\n\$[0-9]+\r\n([^\r]*)\r\n`)

// aclNormGetuser writes GETUSER's command rules as aclNormRules does.
func aclNormGetuser(rep string) string {
	return aclCommandsField.ReplaceAllStringFunc(rep, func(m string) string {
		rules := aclCommandsField.FindStringSubmatch(m)[1]
		return "$8\r\ncommands\r\n" + bulkString(aclNormRules(rules))
	})
}

// aclNormList writes ACL LIST's lines as aclNormLine does.
func aclNormList(rep string) string {
	if !strings.HasPrefix(rep, "*") {
		return rep
	}
	els := elements(rep)
	var b strings.Builder
	b.WriteString(rep[:strings.Index(rep, "\r\n")+2])
	for _, el := range els {
		body, ok := aclBulkBody(el)
		if !ok {
			b.WriteString(el)
			continue
		}
		b.WriteString(bulkString(aclNormLine(body)))
	}
	return b.String()
}

// aclNormLine writes the command rules of a user's line (ACL LIST, the
// ACL file) as aclNormRules does, inside and outside selectors'
// parentheses.
func aclNormLine(s string) string {
	var line strings.Builder
	for _, piece := range aclSplitParens(s) {
		if piece == "(" || piece == ")" {
			line.WriteString(piece)
		} else {
			line.WriteString(aclNormRules(piece))
		}
	}
	return line.String()
}

// aclBulkBody is the string a bulk reply holds.
func aclBulkBody(rep string) (string, bool) {
	if !strings.HasPrefix(rep, "$") {
		return "", false
	}
	_, body, ok := strings.Cut(rep, "\r\n")
	return strings.TrimSuffix(body, "\r\n"), ok
}

// aclSplitParens cuts s before and after every parenthesis.
func aclSplitParens(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '(' || s[i] == ')' {
			out = append(out, s[start:i], s[i:i+1])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// aclNormRules sorts the single-command rules of a description of
// command rules. Redis 7.0 (ACLDescribeSelectorCommandRules) writes +@all
// or -@all, then categories in a set order, then the commands whose bit
// still differs, walking its command table (and each command's
// subcommands), a dict whose order depends on a random hash seed: the
// order of those commands, and of a command's subcommands, is not the
// same on two servers. So each run of single-command rules is sorted by
// command, stably (a command's own rule stays before its subcommands'),
// and the runs of subcommand (and first-argument) rules of one command
// are sorted.
func aclNormRules(s string) string {
	toks := strings.Split(s, " ")
	single := func(t string) bool {
		return len(t) > 1 && (t[0] == '+' || t[0] == '-') && t[1] != '@'
	}
	for i := 0; i < len(toks); {
		if !single(toks[i]) {
			i++
			continue
		}
		j := i
		for j < len(toks) && single(toks[j]) {
			j++
		}
		aclSortRun(toks[i:j])
		i = j
	}
	return strings.Join(toks, " ")
}

// aclSortRun sorts a run of single-command rules as aclNormRules says.
func aclSortRun(run []string) {
	cmdOf := func(t string) string {
		name, _, _ := strings.Cut(t[1:], "|")
		return name
	}
	slices.SortStableFunc(run, func(a, b string) int { return strings.Compare(cmdOf(a), cmdOf(b)) })
	for i := 0; i < len(run); {
		if !strings.Contains(run[i], "|") {
			i++
			continue
		}
		j := i
		for j < len(run) && strings.Contains(run[j], "|") && cmdOf(run[j]) == cmdOf(run[i]) {
			j++
		}
		slices.Sort(run[i:j])
		i = j
	}
}

// aclLogClientFields are the client-info fields of ACL LOG compared: the
// others (id, addresses, fd, ages, buffers, memory) differ between any
// two servers.
var aclLogClientFields = regexp.MustCompile(`(?:^| )(name|flags|db|sub|psub|ssub|multi|cmd|user|redir|resp)=(\S*)`)

// aclNormClientList keeps, of each line of CLIENT LIST, the fields
// aclLogClientFields keeps, and sorts the lines: Redis lists its clients
// in the order of server.clients, a list clientsCron rotates.
func aclNormClientList(rep string) string {
	body, ok := aclBulkBody(rep)
	if !ok {
		return rep
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		var b strings.Builder
		b.WriteString("client:")
		for _, m := range aclLogClientFields.FindAllStringSubmatch(line, -1) {
			b.WriteString(" " + m[1] + "=" + m[2])
		}
		lines = append(lines, b.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// aclFileValue is aclfile's value in CONFIG GET: each server has its own.
var aclFileValue = regexp.MustCompile(`(\$7\r\naclfile\r\n)\$[0-9]+\r\n[^\r]*\r\n`)

// aclNormConfig sorts CONFIG GET's pairs (Redis walks a dict), and writes
// aclfile's path as FILE.
func aclNormConfig(rep string) string {
	return redistest.SortReply(aclFileValue.ReplaceAllString(rep, "${1}$$4\r\nFILE\r\n"), true)
}

// aclNormLog writes ACL LOG's entries with age-seconds as AGE and their
// client-info reduced to the compared fields.
func aclNormLog(rep string) string {
	if !strings.HasPrefix(rep, "*") {
		return rep
	}
	var b strings.Builder
	b.WriteString(rep[:strings.Index(rep, "\r\n")+2])
	for _, entry := range elements(rep) {
		b.WriteString(entry[:strings.Index(entry, "\r\n")+2])
		fields := elements(entry)
		for j := 0; j+1 < len(fields); j += 2 {
			name, value := fields[j], fields[j+1]
			switch name {
			case bulkString("age-seconds"):
				value = "AGE"
			case bulkString("client-info"):
				value = keepFields(value, "client-info:", aclLogClientFields, func(_, v string) string { return v })
			}
			b.WriteString(name + value)
		}
	}
	return b.String()
}
