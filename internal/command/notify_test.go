package command_test

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
)

// subscribe makes a client of e that listens to every keyspace and
// keyevent channel.
func subscribe(t *testing.T, e *command.Engine) *command.Client {
	t.Helper()
	e.Lock()
	cl := e.NewClient("subscriber", "")
	e.Unlock()
	if got := exec(e, cl, "PSUBSCRIBE", "__key*__:*"); !strings.Contains(got, "psubscribe") {
		t.Fatalf("PSUBSCRIBE: %q", got)
	}
	e.Lock()
	cl.W.Reset()
	e.Unlock()
	return cl
}

// received returns the messages cl was sent since the last call, each as
// "channel message".
func received(t *testing.T, e *command.Engine, cl *command.Client) []string {
	t.Helper()
	e.Lock()
	out := cl.TakePending(append([]byte(nil), cl.W.Buf...))
	cl.W.Reset()
	e.Unlock()
	rd := resp.NewReader(bytes.NewReader(out))
	if err := rd.Fill(); err != nil && len(out) > 0 {
		t.Fatal(err)
	}
	var msgs []string
	for {
		args, err := rd.Next(true)
		if err != nil {
			t.Fatalf("messages %q: %v", out, err)
		}
		if args == nil {
			break
		}
		if len(args) != 4 || string(args[0]) != "pmessage" {
			t.Fatalf("not a pmessage: %q", args)
		}
		msgs = append(msgs, string(args[2])+" "+string(args[3]))
	}
	return msgs
}

// both returns the messages of one event with K and E.
func both(db, event, key string) []string {
	return []string{"__keyspace@" + db + "__:" + key + " " + event, "__keyevent@" + db + "__:" + event + " " + key}
}

// A replica raises the notifications of what it applies for its own
// subscribers, as a Redis replica does; the master's notifications are not
// effects: the log holds no PUBLISH for them.
func TestNotifyReplica(t *testing.T) {
	clock := &fakeClock{now: time.UnixMilli(1_700_000_000_000)}
	rp := newReplication(clock, 1)
	cl := rp.clients[0]
	for _, e := range []*command.Engine{rp.master, rp.replica} {
		e.Lock()
		admin := e.NewClient("admin", "")
		e.Unlock()
		if got := exec(e, admin, "CONFIG", "SET", "notify-keyspace-events", "KEA"); got != "+OK\r\n" {
			t.Fatalf("CONFIG SET: %q", got)
		}
	}
	msub, rsub := subscribe(t, rp.master), subscribe(t, rp.replica)
	applied := 0
	step := func(args ...string) {
		t.Helper()
		exec(rp.master, cl, args...)
		for ; applied < len(rp.log.units); applied++ {
			apply(t, rp.replica, rp.rc, rp.log.units[applied])
		}
	}
	check := func(what string, sub *command.Client, e *command.Engine, want ...[]string) {
		t.Helper()
		got := received(t, e, sub)
		if w := slices.Concat(want...); !slices.Equal(got, w) {
			t.Errorf("%s:\n got %q\nwant %q", what, got, w)
		}
	}

	step("SET", "k", "v", "EX", "100")
	check("master SET EX", msub, rp.master, both("0", "set", "k"), both("0", "expire", "k"))
	// The replica applies SET k v PXAT <ms>.
	check("replica SET EX", rsub, rp.replica, both("0", "set", "k"), both("0", "expire", "k"))

	step("INCRBYFLOAT", "f", "1.5")
	check("master INCRBYFLOAT", msub, rp.master, both("0", "incrbyfloat", "f"))
	// It goes out as SET f 1.5 KEEPTTL, as in Redis, whose replicas say set.
	check("replica INCRBYFLOAT", rsub, rp.replica, both("0", "set", "f"))

	step("RPUSH", "l", "a", "b")
	step("LPOP", "l", "2")
	check("master list", msub, rp.master, both("0", "rpush", "l"), both("0", "lpop", "l"), both("0", "del", "l"))
	check("replica list", rsub, rp.replica, both("0", "rpush", "l"), both("0", "lpop", "l"), both("0", "del", "l"))

	step("SELECT", "2")
	step("MULTI")
	step("HSET", "h", "f", "v")
	step("RENAME", "h", "h2")
	step("EXEC")
	step("SELECT", "0")
	want := slices.Concat(both("2", "hset", "h"), both("2", "rename_from", "h"), both("2", "rename_to", "h2"))
	check("master transaction", msub, rp.master, want)
	check("replica transaction", rsub, rp.replica, want)

	// An expiry: expired on the master, the DEL it propagates on the replica.
	clock.Add(101 * time.Second)
	step("GET", "k")
	check("master lazy expiry", msub, rp.master, both("0", "expired", "k"))
	check("replica lazy expiry", rsub, rp.replica, both("0", "del", "k"))

	step("SET", "a", "1", "PX", "10")
	received(t, rp.master, msub)
	received(t, rp.replica, rsub)
	clock.Add(time.Second)
	rp.master.ActiveExpire()
	for ; applied < len(rp.log.units); applied++ {
		apply(t, rp.replica, rp.rc, rp.log.units[applied])
	}
	check("master active expiry", msub, rp.master, both("0", "expired", "a"))
	check("replica active expiry", rsub, rp.replica, both("0", "del", "a"))

	// A user's PUBLISH is an effect (replicas deliver it to their own
	// subscribers); notifications never are.
	step("PUBLISH", "__keyspace@0__:x", "hello")
	check("master PUBLISH", msub, rp.master, []string{"__keyspace@0__:x hello"})
	check("replica PUBLISH", rsub, rp.replica, []string{"__keyspace@0__:x hello"})
	publishes := 0
	for _, u := range rp.log.units {
		publishes += bytes.Count(bytes.ToUpper(u), []byte("PUBLISH"))
	}
	if publishes != 1 {
		t.Errorf("the log holds %d PUBLISH commands, want the user's one", publishes)
	}
}

// Random commands with notifications on: the log carries no notification,
// the replica ends with the master's digest, and its subscriber hears
// events as it applies the master's effects.
func TestNotifyReplicaRandom(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		clock := &fakeClock{now: time.UnixMilli(1_700_000_000_000)}
		r := rand.New(rand.NewPCG(seed, 7))
		rp := newReplication(clock, 3)
		for _, e := range []*command.Engine{rp.master, rp.replica} {
			e.Lock()
			admin := e.NewClient("admin", "")
			e.Unlock()
			exec(e, admin, "CONFIG", "SET", "notify-keyspace-events", "KEAnm")
		}
		msub, rsub := subscribe(t, rp.master), subscribe(t, rp.replica)
		g := &gen{r: r}
		replicate(t, r, rp, g.command, 1500, 4, 10, func() { clock.Add(time.Duration(r.IntN(300)) * time.Millisecond) })
		for _, u := range rp.log.units {
			if bytes.Contains(bytes.ToUpper(u), []byte("PUBLISH")) {
				t.Fatalf("seed %d: a unit holds a PUBLISH: %q", seed, u)
			}
		}
		if m, n := len(received(t, rp.master, msub)), len(received(t, rp.replica, rsub)); m == 0 || n == 0 {
			t.Errorf("seed %d: %d messages on the master, %d on the replica", seed, m, n)
		}
	}
}
