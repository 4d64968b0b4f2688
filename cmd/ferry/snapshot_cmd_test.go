package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/snapshot/rdb"
)

// fileStore returns a new fs store in a temporary directory and its URL.
func fileStore(t *testing.T) (string, snapshot.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	url, err := fileStoreURL(dir)
	if err != nil {
		t.Fatal(err)
	}
	return url, st
}

// datasetCommands writes every type, in its compact and its big encodings,
// in two databases, some keys with an expiry at future (unix ms).
func datasetCommands(future int64) [][]string {
	var cmds [][]string
	add := func(args ...string) { cmds = append(cmds, args) }
	fut := strconv.FormatInt(future, 10)
	for i, v := range []string{"0", "-7", "9000000000000000000", "", "hello", strings.Repeat("long ", 20), "1.5", "007"} {
		add("SET", fmt.Sprintf("str:%d", i), v)
	}
	add("SET", "str:big", strings.Repeat("compressible ", 5000))
	add("HSET", "hash:small", "a", "1", "b", "two", "c", "")
	big := []string{"HSET", "hash:big"}
	for i := 0; i < 300; i++ {
		big = append(big, fmt.Sprintf("f%d", i), strconv.Itoa(i*i))
	}
	add(big...)
	add("HSET", "hash:longvalue", "x", strings.Repeat("v", 100))
	add("RPUSH", "list:small", "a", "1", "-2", "")
	for n := 0; n < 5; n++ {
		push := []string{"RPUSH", "list:big"}
		for i := 0; i < 500; i++ {
			push = append(push, fmt.Sprintf("item-%d-%d", n, i))
		}
		add(push...)
	}
	add("SADD", "set:int", "1", "-5", "70000", "5000000000")
	add("SADD", "set:strings", "a", "b", "c")
	bigSet := []string{"SADD", "set:bigint"}
	for i := 0; i < 700; i++ {
		bigSet = append(bigSet, strconv.Itoa(i*3))
	}
	add(bigSet...)
	bigSet = []string{"SADD", "set:big"}
	for i := 0; i < 200; i++ {
		bigSet = append(bigSet, fmt.Sprintf("m%d", i))
	}
	add(bigSet...)
	add("ZADD", "zset:small", "1", "a", "-2.5", "b", "inf", "c", "0", "d")
	bigZ := []string{"ZADD", "zset:big"}
	for i := 0; i < 300; i++ {
		bigZ = append(bigZ, strconv.FormatFloat(float64(i)*1.25-100, 'g', -1, 64), fmt.Sprintf("member:%d", i))
	}
	add(bigZ...)
	add("PEXPIREAT", "str:1", fut)
	add("PEXPIREAT", "hash:big", fut)
	add("PEXPIREAT", "zset:small", fut)
	add("SELECT", "5")
	add("SET", "db5:str", "five")
	add("RPUSH", "db5:list", "x", "y")
	add("SADD", "db5:set", "p", "q")
	add("PEXPIREAT", "db5:str", fut)
	add("SELECT", "0")
	return cmds
}

// encodeCommands returns cmds as one RESP unit, as the log carries them.
func encodeCommands(cmds [][]string) []byte {
	var b bytes.Buffer
	for _, c := range cmds {
		b.Write(redistest.Encode(c...))
	}
	return b.Bytes()
}

// ferryKeyspace returns a keyspace holding cmds' writes.
func ferryKeyspace(t *testing.T, cmds [][]string) *keyspace.Keyspace {
	t.Helper()
	e := command.New(command.Config{})
	if err := e.NewApplier().Apply(encodeCommands(cmds)); err != nil {
		t.Fatal(err)
	}
	e.Lock()
	defer e.Unlock()
	return e.Keyspace()
}

// pipeline sends every command, then reads every reply, failing on errors.
func pipeline(t *testing.T, c *redistest.Conn, cmds [][]string) {
	t.Helper()
	c.WriteRaw(encodeCommands(cmds))
	for i := range cmds {
		if r := c.Read(); strings.HasPrefix(r, "-") {
			t.Fatalf("%q: %s", cmds[i], r)
		}
	}
}

// bulk returns a simple or bulk string reply's text.
func bulk(t *testing.T, reply string) string {
	t.Helper()
	switch {
	case strings.HasPrefix(reply, "+"):
		return strings.TrimSuffix(reply[1:], "\r\n")
	case strings.HasPrefix(reply, "$"):
		_, body, _ := strings.Cut(reply, "\r\n")
		return strings.TrimSuffix(body, "\r\n")
	}
	t.Fatalf("unexpected reply %q", reply)
	return ""
}

// redisIn starts a redis-server that loads and saves dir/dump.rdb.
func redisIn(t *testing.T, dir string, extra ...string) *redistest.Conn {
	t.Helper()
	addr := redistest.Redis(t, append([]string{"--dir", dir, "--dbfilename", "dump.rdb"}, extra...)...)
	return redistest.Dial(t, addr)
}

// checkRDB runs redis-check-rdb on path.
func checkRDB(t *testing.T, path string) {
	t.Helper()
	bin := redistest.Need(t, "redis-check-rdb")
	out, err := exec.Command(bin, path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("RDB looks OK")) {
		t.Fatalf("redis-check-rdb %s: %v\n%s", path, err, out)
	}
}

// writeSnapshot writes ks to st as dataset's snapshot at offset.
func writeSnapshot(t *testing.T, st snapshot.Store, ks *keyspace.Keyspace, dataset string, offset uint64, gen string, created time.Time) (snapshot.Info, rdb.Meta) {
	t.Helper()
	meta := rdb.Meta{Offset: offset, Generation: gen, Dataset: dataset, Created: created}
	info, err := snapshot.Write(context.Background(), st, snapshot.Info{Dataset: dataset, Offset: offset, Generation: gen},
		func(w io.Writer) error { return rdb.Encode(ks, w, meta) })
	if err != nil {
		t.Fatal(err)
	}
	return info, meta
}

// run runs a snapshot subcommand and returns what it printed.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := snapshotCmd(context.Background(), args, &out)
	return out.String(), err
}

// TestSnapshotExport: export writes exactly the RDB bytes the encoder
// produced, which redis-check-rdb accepts and redis-server loads with the
// same DEBUG DIGEST.
func TestSnapshotExport(t *testing.T) {
	redistest.Need(t, "redis-server")
	url, st := fileStore(t)
	// redis-server drops keys whose time has passed when it loads a file:
	// the expiries are in the future of the real clock.
	ks := ferryKeyspace(t, datasetCommands(time.Now().Add(time.Hour).UnixMilli()))
	created := time.Unix(1700000000, 0)
	_, meta := writeSnapshot(t, st, ks, "ds", 42, "gen1", created)
	var want bytes.Buffer
	if err := rdb.Encode(ks, &want, meta); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "dump.rdb")
	out, err := run(t, "export", "--store", url, "--dataset", "ds", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "exported ds@42 (gen1) to "+path) {
		t.Errorf("export printed %q", out)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("exported %d bytes, the encoder wrote %d: not the same bytes", len(got), want.Len())
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.tmp left behind: %v", path, err)
	}
	checkRDB(t, path)
	c := redisIn(t, dir)
	if d := bulk(t, c.Do("DEBUG", "DIGEST")); d != digest(ks) {
		t.Fatalf("redis-server DEBUG DIGEST %s, ferry's %s", d, digest(ks))
	}

	// --out - writes the same bytes to standard output, --offset picks.
	out, err = run(t, "export", "--store", url, "--dataset", "ds", "--offset", "42", "--out", "-")
	if err != nil {
		t.Fatal(err)
	}
	if out != want.String() {
		t.Fatalf("export --out - wrote %d bytes, want %d", len(out), want.Len())
	}
}

// TestSnapshotExportErrors: a missing offset and a damaged object are
// errors that say so, and leave no file (and an existing one as it was).
func TestSnapshotExportErrors(t *testing.T) {
	url, st := fileStore(t)
	ks := ferryKeyspace(t, datasetCommands(time.Now().Add(time.Hour).UnixMilli()))
	info, _ := writeSnapshot(t, st, ks, "ds", 10, "gen1", time.Time{})
	dir := t.TempDir()
	path := filepath.Join(dir, "dump.rdb")

	_, err := run(t, "export", "--store", url, "--dataset", "ds", "--offset", "11", "--out", path)
	if !errors.Is(err, snapshot.ErrNotFound) || !strings.Contains(err.Error(), "no snapshot at offset 11") {
		t.Fatalf("export --offset 11: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("export of a missing offset created %s", path)
	}
	_, err = run(t, "export", "--store", url, "--dataset", "other", "--out", path)
	if !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("export of a dataset without snapshots: %v", err)
	}

	// Damage one byte in the middle of the object.
	loc, err := snapshot.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(loc.Dir, filepath.FromSlash(info.Key))
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(obj, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("the previous dump"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "export", "--store", url, "--dataset", "ds", "--out", path)
	if !errors.Is(err, snapshot.ErrChecksum) || !strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), info.Key) {
		t.Fatalf("export of a damaged snapshot: %v", err)
	}
	if prev, err := os.ReadFile(path); err != nil || string(prev) != "the previous dump" {
		t.Fatalf("a failed export changed %s: %q, %v", path, prev, err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed export left %s.tmp", path)
	}
	fresh := filepath.Join(dir, "fresh.rdb")
	if _, err := run(t, "export", "--store", url, "--dataset", "ds", "--out", fresh); !errors.Is(err, snapshot.ErrChecksum) {
		t.Fatalf("export of a damaged snapshot: %v", err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed export created %s", fresh)
	}
	// inspect verifies the checksum too.
	if _, err := run(t, "inspect", "--store", url, "--dataset", "ds"); !errors.Is(err, snapshot.ErrChecksum) {
		t.Fatalf("inspect of a damaged snapshot: %v", err)
	}
}

// TestSnapshotImportRedisDump: a dump.rdb saved by redis-server 7.0, in
// all its encodings (LZF strings and compressed quicklist nodes included),
// becomes a snapshot that loads with redis-server's DEBUG DIGEST; a second
// import into the same dataset is refused.
func TestSnapshotImportRedisDump(t *testing.T) {
	redistest.Need(t, "redis-server")
	dir := t.TempDir()
	c := redisIn(t, dir, "--list-compress-depth", "1")
	pipeline(t, c, datasetCommands(time.Now().Add(time.Hour).UnixMilli()))
	encodings := map[string]bool{}
	for _, key := range []string{"hash:small", "hash:big", "set:int", "set:big", "set:strings", "zset:small", "zset:big", "list:big", "str:0", "str:big", "str:4"} {
		encodings[bulk(t, c.Do("OBJECT", "ENCODING", key))] = true
	}
	for _, enc := range []string{"listpack", "hashtable", "intset", "skiplist", "quicklist", "int", "raw", "embstr"} {
		if !encodings[enc] {
			t.Errorf("no key in encoding %s: %v", enc, encodings)
		}
	}
	pipeline(t, c, [][]string{{"SAVE"}})
	want := bulk(t, c.Do("DEBUG", "DIGEST"))
	dump := filepath.Join(dir, "dump.rdb")

	url, st := fileStore(t)
	out, err := run(t, "import", dump, "--store", url, "--dataset", "seeded", "--nats", natsURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "redis-ver 7.0.") || !strings.Contains(out, "snapshot seeded@0 (") {
		t.Errorf("import printed %q", out)
	}
	info, ks, err := snapshot.LoadNewest(context.Background(), st, "seeded", 0, func() *keyspace.Keyspace { return keyspace.New(nil) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Offset != 0 || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(info.Generation) {
		t.Errorf("imported snapshot %+v: want offset 0 and a 16 hex digit generation", info)
	}
	if got := digest(ks); got != want {
		t.Fatalf("imported snapshot's digest %s, redis-server's %s", got, want)
	}
	var meta rdb.Meta
	if err := snapshot.Read(context.Background(), st, info, func(r io.Reader) error {
		var err error
		meta, err = rdb.ReadMeta(r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if meta.Dataset != "seeded" || meta.Generation != info.Generation || meta.Offset != 0 {
		t.Errorf("imported snapshot's AUX fields: %+v", meta)
	}

	// The dataset is not new any more.
	_, err = run(t, "import", "--store", url, "--dataset", "seeded", dump, "--nats", natsURL(t))
	if err == nil || !strings.Contains(err.Error(), "not new") {
		t.Fatalf("second import: %v", err)
	}
	if list, err := st.List(context.Background(), "seeded"); err != nil || len(list) != 1 {
		t.Fatalf("after a refused import the dataset has %d snapshots (%v)", len(list), err)
	}

	// A file that is not an RDB is refused and writes nothing.
	bad := filepath.Join(t.TempDir(), "bad.rdb")
	if err := os.WriteFile(bad, []byte("REDIS0010garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "import", bad, "--store", url, "--dataset", "bad", "--nats", natsURL(t)); !errors.Is(err, rdb.ErrCorrupt) {
		t.Fatalf("import of a corrupt file: %v", err)
	}
	if list, err := st.List(context.Background(), "bad"); err != nil || len(list) != 0 {
		t.Fatalf("a refused import wrote %d snapshots (%v)", len(list), err)
	}
}

// TestSnapshotImportDropsExpired: keys whose time passed are left out, as
// redis-server leaves them out when it loads a file as a master.
func TestSnapshotImportDropsExpired(t *testing.T) {
	ks := ferryKeyspace(t, [][]string{{"SET", "live", "1"}, {"SET", "dead", "2"}, {"PEXPIREAT", "dead", "1000"}, {"SET", "later", "3"},
		{"PEXPIREAT", "later", strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)}})
	path := filepath.Join(t.TempDir(), "dump.rdb")
	var b bytes.Buffer
	if err := rdb.Encode(ks, &b, rdb.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url, st := fileStore(t)
	out, err := run(t, "import", path, "--store", url, "--dataset", "ds", "--nats", natsURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "2 keys in 1 databases, 1 already expired keys left out") {
		t.Errorf("import printed %q", out)
	}
	_, got, err := snapshot.LoadNewest(context.Background(), st, "ds", 0, func() *keyspace.Keyspace { return keyspace.New(nil) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.DB(0).Len() != 2 || got.DB(0).Peek("dead") != nil {
		t.Fatalf("imported %d keys, dead present: %v", got.DB(0).Len(), got.DB(0).Peek("dead") != nil)
	}
}

// TestSnapshotListInspect: list shows every snapshot with the newest
// marked, inspect reads one's AUX fields and counts its keys.
func TestSnapshotListInspect(t *testing.T) {
	url, st := fileStore(t)
	ks := ferryKeyspace(t, datasetCommands(time.Now().Add(time.Hour).UnixMilli()))
	writeSnapshot(t, st, ks, "ds", 5, "aaaa", time.Time{})
	writeSnapshot(t, st, keyspace.New(nil), "ds", 9, "bbbb", time.Time{})

	out, err := run(t, "list", "--store", url, "--dataset", "ds", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []listReport
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(list) != 2 || list[0].Offset != 5 || list[0].Newest || list[1].Offset != 9 || !list[1].Newest ||
		list[1].Generation != "bbbb" || list[1].Size <= 0 || list[1].Created.IsZero() || list[1].Key == "" {
		t.Fatalf("list --json: %+v", list)
	}
	out, err = run(t, "list", "--store", url, "--dataset", "ds")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "5 ") || strings.Contains(lines[1], "newest") ||
		!strings.HasPrefix(lines[2], "9 ") || !strings.HasSuffix(strings.TrimSpace(lines[2]), "newest") {
		t.Fatalf("list:\n%s", out)
	}
	if out, err := run(t, "list", "--store", url, "--dataset", "none"); err != nil || !strings.Contains(out, "no snapshots") {
		t.Fatalf("list of an empty dataset: %q, %v", out, err)
	}

	out, err = run(t, "inspect", "--store", url, "--dataset", "ds", "--offset", "5", "--keys", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Snapshot.Offset != 5 || rep.Newest || rep.RDBVersion != rdb.Version || rep.Aux["ferry-offset"] != "5" ||
		rep.Aux["ferry-generation"] != "aaaa" || rep.Aux["ferry-dataset"] != "ds" || !strings.HasPrefix(rep.Aux["redis-ver"], "7.0.") ||
		rep.Aux["ctime"] == "" || rep.RDBBytes <= 0 {
		t.Fatalf("inspect: %+v", rep)
	}
	want := countKeys(ks)
	if len(rep.Databases) != 2 || fmt.Sprint(rep.Databases) != fmt.Sprint(want) {
		t.Fatalf("inspect --keys: %+v, want %+v", rep.Databases, want)
	}
	if rep.Databases[0].Types["hash"] != 3 || rep.Databases[1].DB != 5 || rep.Databases[1].Keys != 3 || rep.Databases[1].Expires != 1 {
		t.Fatalf("inspect --keys: %+v", rep.Databases)
	}

	// Without --offset: the manifest's newest; text output.
	out, err = run(t, "inspect", "--store", url, "--dataset", "ds")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ds@9 (bbbb)", "yes (the manifest's)", "aux ferry-offset      9", "(verified)"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`(?m)^db[0-9]+\s`).MatchString(out) {
		t.Errorf("inspect without --keys counted keys:\n%s", out)
	}
	if _, err := run(t, "inspect", "--store", url, "--dataset", "ds", "--offset", "6"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("inspect --offset 6: %v", err)
	}
	if _, err := run(t, "list", "--dataset", "ds"); err == nil || !strings.Contains(err.Error(), "--store is required") {
		t.Fatalf("list without --store: %v", err)
	}
}

// digest returns ks's DEBUG DIGEST in hex.
func digest(ks *keyspace.Keyspace) string {
	d := ks.Digest()
	return d.Hex()
}
