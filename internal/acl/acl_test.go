package acl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testCatalog is a small command table: enough to exercise categories,
// containers, first arguments and commands every user may run.
func testCatalog() *Catalog {
	c := NewCatalog()
	c.Add("get", []string{"read", "string", "fast"}, false)
	c.Add("set", []string{"write", "string", "slow"}, false)
	c.Add("mget", []string{"read", "string", "fast"}, false)
	c.Add("select", []string{"fast", "connection"}, false)
	c.Add("auth", []string{"fast", "connection"}, true)
	c.Add("publish", []string{"pubsub", "fast"}, false)
	c.Add("config", []string{"slow"}, false)
	c.Add("config|get", []string{"admin", "slow", "dangerous"}, false)
	c.Add("config|set", []string{"admin", "slow", "dangerous"}, false)
	return c
}

func mustSet(t *testing.T, us *Users, name string, ops ...string) *User {
	t.Helper()
	u, _, msg := us.SetUser(name, ops)
	if msg != "" {
		t.Fatalf("SETUSER %s %q: %s", name, ops, msg)
	}
	return u
}

func TestNewAndDefaultUsers(t *testing.T) {
	us := NewUsers(testCatalog())
	if got := us.Default().Describe(us.Catalog()); got != "on nopass ~* &* +@all" {
		t.Errorf("default: %q", got)
	}
	if !us.Default().Unrestricted() || us.AuthRequired() {
		t.Error("the default user should be unrestricted and need no password")
	}
	u := mustSet(t, us, "u")
	if got := u.Describe(us.Catalog()); got != "off resetchannels -@all" {
		t.Errorf("new user: %q", got)
	}
	mustSet(t, us, "u", "reset")
	if got := u.Describe(us.Catalog()); got != "off sanitize-payload resetchannels -@all" {
		t.Errorf("after reset: %q", got)
	}
	if !reflect.DeepEqual(us.Names(), []string{"default", "u"}) {
		t.Errorf("names: %q", us.Names())
	}
}

func TestSetUserErrors(t *testing.T) {
	us := NewUsers(testCatalog())
	for _, c := range []struct {
		ops  []string
		want string
	}{
		{[]string{"bogus"}, "Error in ACL SETUSER modifier 'bogus': Syntax error"},
		{[]string{"+nosuch"}, "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"},
		{[]string{"+@nosuch"}, "Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"},
		{[]string{"allkeys", "~x"}, "Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"},
		{[]string{"&*", "&x"}, "Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"},
		{[]string{"<nope"}, "Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the user does not exist"},
		{[]string{"#ABC"}, "Error in ACL SETUSER modifier '#ABC': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"},
		{[]string{"+config|get|x"}, "Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported"},
		{[]string{"+get|"}, "Error in ACL SETUSER modifier '+get|': Syntax error"},
		{[]string{"%~k"}, "Error in ACL SETUSER modifier '%~k': Syntax error"},
		{[]string{"%X~k"}, "Error in ACL SETUSER modifier '%X~k': Syntax error"},
		{[]string{"(~a", "+get"}, "Unmatched parenthesis in acl selector starting at '(~a'."},
		{[]string{"(~a +nosuch)"}, "Error in ACL SETUSER modifier '(~a +nosuch)': Unknown command or category name in ACL"},
	} {
		if _, _, msg := us.SetUser("u", c.ops); msg != c.want {
			t.Errorf("%q: %q, want %q", c.ops, msg, c.want)
		}
	}
	if us.Get("u") != nil {
		t.Error("a refused SETUSER created the user")
	}
	u := mustSet(t, us, "u", "on", "+get")
	before := u.Describe(us.Catalog())
	if _, _, msg := us.SetUser("u", []string{"+set", "bogus"}); msg == "" {
		t.Fatal("bogus accepted")
	}
	if got := u.Describe(us.Catalog()); got != before {
		t.Errorf("a refused SETUSER changed the user: %q, was %q", got, before)
	}
}

func TestDescribe(t *testing.T) {
	us := NewUsers(testCatalog())
	for _, c := range []struct {
		ops  []string
		want string
	}{
		{[]string{"+@string"}, "off resetchannels -@all +@string"},
		{[]string{"+@all", "-@string"}, "off resetchannels +@all -@string"},
		// @write fits better than @string (no command to take back).
		{[]string{"+@string", "-get"}, "off resetchannels -@all +@write +mget"},
		{[]string{"+get", "+config|get"}, "off resetchannels -@all +config|get +get"},
		{[]string{"+config", "-config|set"}, "off resetchannels -@all +config -config|set"},
		{[]string{"+select|0", "+select|1", "+select|0"}, "off resetchannels -@all +select|0 +select|1"},
		{[]string{"~a", "%R~b", "%W~c", "%RW~d", "%R~a"}, "off ~a %R~b %W~c ~d resetchannels -@all"},
		{[]string{"&x", "&y", "&x"}, "off resetchannels &x &y -@all"},
		{[]string{">p", "#" + strings.Repeat("a", 64), ">p"}, "off #" + HashPassword("p") + " #" + strings.Repeat("a", 64) + " resetchannels -@all"},
		{[]string{"on", "nopass", "skip-sanitize-payload", "(~k +get)", "(%R~r* &c)"}, "on nopass skip-sanitize-payload resetchannels -@all (~k resetchannels -@all +get) (%R~r* resetchannels &c -@all)"},
		{[]string{"(+get)", "clearselectors"}, "off resetchannels -@all"},
	} {
		u := mustSet(t, us, "d", append([]string{"reset", "sanitize-payload"}, c.ops...)...)
		got := strings.Replace(u.Describe(us.Catalog()), " sanitize-payload", "", 1)
		if got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.ops, got, c.want)
		}
	}
}

// req builds a request for the test catalog.
func req(cat *Catalog, keys []Key, chans []Channel, args ...string) *Request {
	name := strings.ToLower(args[0])
	if len(args) > 1 && cat.Lookup(name) != nil && cat.Lookup(name).byName != nil {
		name += "|" + strings.ToLower(args[1])
	}
	r := &Request{Cmd: cat.Lookup(name)}
	for _, a := range args {
		r.Args = append(r.Args, []byte(a))
	}
	if keys != nil {
		r.HasKeys = true
		r.Keys = func() []Key { return keys }
	}
	if chans != nil {
		r.Channels = func() []Channel { return chans }
	}
	return r
}

func TestCheck(t *testing.T) {
	us := NewUsers(testCatalog())
	cat := us.Catalog()
	u := mustSet(t, us, "u", "on", "+get", "+set", "+mget", "+select|0", "+publish", "%R~r*", "%W~w*", "~a*", "&ch*",
		"(+config|get ~c* +mget)")
	rd := func(pos ...int) []Key {
		var k []Key
		for _, p := range pos {
			k = append(k, Key{Pos: p, Perm: Read})
		}
		return k
	}
	for _, c := range []struct {
		r    *Request
		want Result
		pos  int
	}{
		{req(cat, rd(1), nil, "GET", "r1"), OK, 0},
		{req(cat, rd(1), nil, "GET", "a1"), OK, 0},
		{req(cat, rd(1), nil, "GET", "w1"), DeniedKey, 1},
		{req(cat, []Key{{Pos: 1, Perm: Write}}, nil, "SET", "w1", "v"), OK, 0},
		{req(cat, []Key{{Pos: 1, Perm: Write}}, nil, "SET", "r1", "v"), DeniedKey, 1},
		{req(cat, []Key{{Pos: 1}}, nil, "SET", "r1", "v"), OK, 0},
		{req(cat, rd(1, 2, 3), nil, "MGET", "a", "zz", "c1"), DeniedKey, 2},
		{req(cat, rd(1, 2), nil, "MGET", "c1", "zz"), DeniedKey, 2},
		{req(cat, nil, nil, "SELECT", "0"), OK, 0},
		{req(cat, nil, nil, "SELECT", "1"), DeniedCommand, 0},
		{req(cat, nil, nil, "AUTH", "x"), OK, 0},
		{req(cat, nil, nil, "CONFIG", "SET", "x", "y"), DeniedCommand, 0},
		{req(cat, nil, nil, "CONFIG", "GET", "x"), OK, 0},
		{req(cat, nil, []Channel{{Pos: 1}}, "PUBLISH", "ch1", "m"), OK, 0},
		{req(cat, nil, []Channel{{Pos: 1}}, "PUBLISH", "other", "m"), DeniedChannel, 1},
	} {
		res, pos := u.Check(c.r)
		if res != c.want || pos != c.pos {
			t.Errorf("%q: %v at %d, want %v at %d", c.r.Args, res, pos, c.want, c.pos)
		}
	}
	if !u.CheckChannel("ch*", true) || u.CheckChannel("c*", true) || !u.CheckChannel("chx", false) {
		t.Error("channel patterns are matched literally, channels as globs")
	}
	if u.CheckWithAllKeys(req(cat, rd(1), nil, "GET", "a"), Read) {
		t.Error("no selector grants every key")
	}
	mustSet(t, us, "u", "%R~*")
	if !u.CheckWithAllKeys(req(cat, rd(1), nil, "GET", "a"), Read) || u.CheckWithAllKeys(req(cat, rd(1), nil, "GET", "a"), ReadWrite) {
		t.Error("%R~* grants reading every key, not writing")
	}
}

func TestPasswords(t *testing.T) {
	us := NewUsers(testCatalog())
	mustSet(t, us, "u", "on", ">one", ">two", "<one")
	if us.Authenticate("u", "one") != nil || us.Authenticate("u", "two") == nil {
		t.Error(">two <one: only two authenticates")
	}
	mustSet(t, us, "u", "!"+HashPassword("two"), "#"+HashPassword("three"))
	if us.Authenticate("u", "two") != nil || us.Authenticate("u", "three") == nil {
		t.Error("!hash removes, #hash adds")
	}
	mustSet(t, us, "u", "off")
	if us.Authenticate("u", "three") != nil {
		t.Error("a user that is off cannot authenticate")
	}
	mustSet(t, us, "u", "on", "nopass")
	if us.Authenticate("u", "anything") == nil || us.Authenticate("nobody", "x") != nil {
		t.Error("nopass takes any password; an unknown user none")
	}
	us.SetDefaultPassword("secret")
	if !us.AuthRequired() || us.Authenticate("default", "secret") == nil || us.Authenticate("default", "x") != nil {
		t.Error("requirepass is default's only password")
	}
	us.SetDefaultPassword("")
	if us.AuthRequired() {
		t.Error("an empty requirepass gives default nopass")
	}
}

func TestChannelsRevoked(t *testing.T) {
	us := NewUsers(testCatalog())
	u, _, _ := us.SetUser("p", []string{"&a", "&b*"})
	_, before, _ := us.SetUser("p", []string{"&c"})
	if !u.ChannelsRevoked(before) {
		t.Error("with channels before, Redis 7.0 checks the clients even when channels are only added")
	}
	mustSet(t, us, "q")
	_, before, _ = us.SetUser("q", []string{"on"})
	if q := us.Get("q"); q.ChannelsRevoked(before) {
		t.Error("no channels before: nothing to check")
	}
	_, before, _ = us.SetUser("q", []string{"&*"})
	if q := us.Get("q"); q.ChannelsRevoked(before) {
		t.Error("allchannels now: nothing to check")
	}
	_, before, _ = us.SetUser("p", []string{"resetchannels", "&a"})
	if !u.ChannelsRevoked(before) {
		t.Error("dropping b* revokes")
	}
	if !u.AllowsSubscription("a", false) || u.AllowsSubscription("b*", true) {
		t.Error("AllowsSubscription")
	}
}

func TestMergeSelectors(t *testing.T) {
	got, open := mergeSelectors([]string{"on", "(~a", "+get)", "(x)", "(~b", "(~c", "+set)"})
	want := []string{"on", "(~a +get)", "(x)", "(~c +set)"}
	if open >= 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("merge: %q %d", got, open)
	}
	if _, open := mergeSelectors([]string{"a", "(b", "c"}); open != 1 {
		t.Errorf("unmatched at %d", open)
	}
}

func TestLog(t *testing.T) {
	l := Log{MaxLen: 3}
	add := func(obj string, ms int64) {
		l.Add(Entry{Reason: DeniedKey, Context: TopLevel, Object: obj, Username: "u", Time: ms, Client: obj})
	}
	add("a", 0)
	add("b", 1000)
	add("a", 2000) // grouped with the first, which becomes the newest
	if e := l.Entries(10); len(e) != 2 || e[0].Object != "a" || e[0].Count != 2 || e[0].Time != 2000 {
		t.Fatalf("grouping: %+v", e)
	}
	add("a", 2000+groupWindow+1) // too late: a new entry
	add("c", 0)
	add("d", 0)
	if e := l.Entries(10); len(e) != 3 || e[0].Object != "d" || e[2].Object != "a" {
		t.Errorf("trim: %+v %+v %+v", e[0], e[1], e[2])
	}
	if len(l.Entries(1)) != 1 {
		t.Error("Entries(1)")
	}
	l.Reset()
	if len(l.Entries(10)) != 0 {
		t.Error("Reset")
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.acl")
	us := NewUsers(testCatalog())
	mustSet(t, us, "u", "on", ">p", "~a*", "&c", "+get", "(+set ~w*)")
	us.SetDefaultPassword("secret")
	if err := us.Save(path); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(path)
	fresh := NewUsers(testCatalog())
	def := fresh.Default()
	dropped, err := fresh.Load(path)
	if err != nil || len(dropped) != 0 {
		t.Fatalf("load: %v %v", err, dropped)
	}
	if fresh.Default() != def {
		t.Error("LOAD replaced the default user instead of changing it")
	}
	if !reflect.DeepEqual(fresh.List(), us.List()) {
		t.Errorf("loaded %q\nsaved %q", fresh.List(), us.List())
	}
	if want := strings.Join(us.List(), "\n") + "\n"; string(saved) != want {
		t.Errorf("file %q", saved)
	}
	for _, c := range []struct{ content, want string }{
		{"usr x\n", path + ":1 should start with user keyword followed by the username. "},
		{"user a on\nuser a off\n", "WARNING: Duplicate user 'a' found on line 2. "},
		{"user b +nosuch bogus +@nope\n", path + ":1: Error in applying operation '+nosuch': Unknown command or category name in ACL. " + path + ":1: Syntax error. " + path + ":1: Error in applying operation '+@nope': Unknown command or category name in ACL. "},
	} {
		os.WriteFile(path, []byte(c.content), 0o644)
		_, err := fresh.Load(path)
		want := c.want + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v\nwant %s", c.content, err, want)
		}
	}
	if !reflect.DeepEqual(fresh.List(), us.List()) {
		t.Error("a failed LOAD changed the users")
	}
	os.WriteFile(path, []byte("user v on nopass +@all\n"), 0o644)
	dropped, err = fresh.Load(path)
	if err != nil || len(dropped) != 1 || dropped[0].Name() != "u" {
		t.Fatalf("load: %v %v", err, dropped)
	}
	if got := fresh.Default().Describe(fresh.Catalog()); got != "on nopass ~* &* +@all" {
		t.Errorf("a file without default resets it: %q", got)
	}
	_, err = fresh.Load(filepath.Join(dir, "missing"))
	if err == nil || !strings.HasSuffix(err.Error(), "missing': No such file or directory") {
		t.Errorf("missing file: %v", err)
	}
}
