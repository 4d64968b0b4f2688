package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/stream"
)

// runSnapshot runs "ferry snapshot <list|inspect|export|import>".
func runSnapshot(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return snapshotCmd(ctx, args, os.Stdout)
}

const snapshotUsage = `usage: ferry snapshot <command> --store URL --dataset NAME [flags]

commands:
  list      every snapshot of the dataset, the manifest's newest marked
  inspect   one snapshot: where it is, its RDB header (AUX fields); --keys counts keys
  export    write a snapshot as a plain dump.rdb that redis-server loads
  import    seed a new dataset from a redis-server dump.rdb

Run "ferry snapshot <command> -h" for its flags.
`

// snapshotCmd dispatches a snapshot subcommand; reports go to stdout.
func snapshotCmd(ctx context.Context, args []string, stdout io.Writer) error {
	return dispatch(ctx, "snapshot", snapshotUsage, args, stdout, map[string]subcommand{
		"list": snapshotList, "inspect": snapshotInspect, "export": snapshotExport, "import": snapshotImport,
	})
}

// subcommand runs one command of a group (ferry snapshot, ferry log) with
// its arguments; reports go to stdout.
type subcommand func(ctx context.Context, args []string, stdout io.Writer) error

// dispatch runs the command of group that args name, printing usage to
// stderr when there is none, it is unknown, or help is asked for.
func dispatch(ctx context.Context, group, usage string, args []string, stdout io.Writer, cmds map[string]subcommand) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("%s: which command?", group)
	}
	if run, ok := cmds[args[0]]; ok {
		return run(ctx, args[1:], stdout)
	}
	fmt.Fprint(os.Stderr, usage)
	switch args[0] {
	case "help", "-h", "--help":
		return nil
	}
	return fmt.Errorf("%s: unknown command %q", group, args[0])
}

// offlineFlags are the flags every snapshot tool takes: where snapshots are
// kept, which dataset, and, for the tools that read the log, where it is.
type offlineFlags struct {
	fs       *flag.FlagSet
	store    *storeFlags
	nats     *natsFlags // nil for the tools that never read the log
	dataset  *string
	logLevel *string
}

func newOfflineFlags(name string, withNATS bool) *offlineFlags {
	f := &offlineFlags{fs: newFlagSet(name)}
	f.store = addStoreFlags(f.fs, "")
	if withNATS {
		f.nats = addNATSFlags(f.fs)
		f.dataset = &f.nats.dataset
	} else {
		f.dataset = f.fs.String("dataset", "default", "dataset name")
	}
	f.logLevel = f.fs.String("log-level", "warn", "log level: debug, info, warn, error")
	return f
}

// parse parses args, flags and positional arguments in any order, then
// the environment's defaults, and returns the positional arguments.
func (f *offlineFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, err
		}
		args = f.fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if err := envDefaults(f.fs); err != nil {
		return nil, err
	}
	if err := snapshot.ValidateDataset(*f.dataset); err != nil {
		return nil, fmt.Errorf("--dataset: %w", err)
	}
	return pos, nil
}

// given reports whether the flag name was set on the command line.
func (f *offlineFlags) given(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// openStore opens --store, which these tools need.
func (f *offlineFlags) openStore(ctx context.Context) (snapshot.Store, error) {
	if f.store.url == "" {
		return nil, errors.New("--store is required: s3://BUCKET/PREFIX or file:///DIR (or FERRY_STORE)")
	}
	return f.store.open(ctx, false)
}

// logger logs to stderr at --log-level.
func (f *offlineFlags) logger() (*slog.Logger, error) { return newLogger(*f.logLevel, "text") }

// listReport is one snapshot as list --json prints it.
type listReport struct {
	snapshot.Info
	// Newest marks the manifest's snapshot.
	Newest bool `json:"newest"`
	// Unpublished marks an object above the manifest: a Put that did not
	// finish publishing it.
	Unpublished bool `json:"unpublished,omitempty"`
}

func snapshotList(ctx context.Context, args []string, stdout io.Writer) error {
	f := newOfflineFlags("snapshot list", false)
	asJSON := f.fs.Bool("json", false, "print JSON")
	if pos, err := f.parse(args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("snapshot list: unexpected argument %q", pos[0])
	}
	st, err := f.openStore(ctx)
	if err != nil {
		return err
	}
	newest, haveNewest, err := manifestNewest(ctx, st, *f.dataset)
	if err != nil {
		return err
	}
	list, err := st.List(ctx, *f.dataset)
	if err != nil {
		return fmt.Errorf("list snapshots of dataset %q: %w", *f.dataset, err)
	}
	reports := make([]listReport, len(list))
	for i, info := range list {
		reports[i] = listReport{Info: info, Newest: haveNewest && info.Key == newest.Key,
			Unpublished: !haveNewest || info.Offset > newest.Offset}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	if len(reports) == 0 {
		fmt.Fprintf(stdout, "dataset %q has no snapshots in %s\n", *f.dataset, f.store.url)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OFFSET\tGENERATION\tSIZE\tCREATED\tKEY\t")
	for _, r := range reports {
		mark := ""
		switch {
		case r.Newest:
			mark = "newest"
		case r.Unpublished:
			mark = "unpublished"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", r.Offset, r.Generation, r.Size,
			r.Created.UTC().Format(time.RFC3339), r.Key, mark)
	}
	return tw.Flush()
}

// manifestNewest returns the manifest's snapshot; ok is false when the
// dataset has no manifest.
func manifestNewest(ctx context.Context, st snapshot.Store, dataset string) (info snapshot.Info, ok bool, err error) {
	info, err = st.Newest(ctx, dataset)
	if errors.Is(err, snapshot.ErrNotFound) {
		return snapshot.Info{}, false, nil
	}
	if err != nil {
		return snapshot.Info{}, false, fmt.Errorf("read the manifest of dataset %q: %w", dataset, err)
	}
	return info, true, nil
}

// pickSnapshot returns the manifest's snapshot, or with atOffset the one at
// exactly offset (the manifest's if it is there, else the last generation
// listed), or with generation the newest of that generation.
func pickSnapshot(ctx context.Context, st snapshot.Store, dataset string, atOffset bool, offset uint64, generation string) (snapshot.Info, error) {
	newest, haveNewest, err := manifestNewest(ctx, st, dataset)
	if err != nil {
		return snapshot.Info{}, err
	}
	match := func(info snapshot.Info) bool {
		return (!atOffset || info.Offset == offset) && (generation == "" || info.Generation == generation)
	}
	if !atOffset && generation == "" {
		if !haveNewest {
			return snapshot.Info{}, fmt.Errorf("dataset %q has no snapshot (no manifest): %w", dataset, snapshot.ErrNotFound)
		}
		return newest, nil
	}
	if haveNewest && match(newest) {
		return newest, nil
	}
	list, err := st.List(ctx, dataset)
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("list snapshots of dataset %q: %w", dataset, err)
	}
	for i := len(list) - 1; i >= 0; i-- {
		if match(list[i]) {
			return list[i], nil
		}
	}
	what := ""
	if atOffset {
		what = fmt.Sprintf(" at offset %d", offset)
	}
	if generation != "" {
		what += fmt.Sprintf(" of generation %q", generation)
	}
	offsets := make([]string, 0, len(list))
	for _, info := range list {
		offsets = append(offsets, strconv.FormatUint(info.Offset, 10))
	}
	have := "it has none"
	if len(offsets) > 0 {
		have = "it has offsets " + joinTrimmed(offsets, 20)
	}
	return snapshot.Info{}, fmt.Errorf("dataset %q has no snapshot%s (%s): %w", dataset, what, have, snapshot.ErrNotFound)
}

// joinTrimmed joins at most max of s with commas, the last ones kept.
func joinTrimmed(s []string, max int) string {
	out := ""
	if len(s) > max {
		out = "..., "
		s = s[len(s)-max:]
	}
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}

// addPickFlags defines --offset and --generation, which pick a snapshot.
func addPickFlags(f *offlineFlags) (offset *uint64, generation *string) {
	offset = f.fs.Uint64("offset", 0, "the snapshot at exactly this offset (default: the manifest's newest)")
	generation = f.fs.String("generation", "", "the snapshot of this generation (when several share an offset)")
	return offset, generation
}

// dbReport is what inspect --keys says about one database.
type dbReport struct {
	DB      int            `json:"db"`
	Keys    int            `json:"keys"`
	Expires int            `json:"expires"`
	Types   map[string]int `json:"types"`
}

// inspectReport is what inspect prints.
type inspectReport struct {
	Snapshot snapshot.Info `json:"snapshot"`
	Newest   bool          `json:"newest"`
	// RDBVersion and Aux are the RDB's header: its version and AUX fields.
	RDBVersion int               `json:"rdb_version"`
	Aux        map[string]string `json:"aux"`
	// RDBBytes is the decompressed size.
	RDBBytes int64 `json:"rdb_bytes"`
	// Databases, with --keys: the non-empty databases.
	Databases []dbReport `json:"databases,omitempty"`
	// Problem says what is wrong with a snapshot that reads well but does
	// not say what its name says.
	Problem string `json:"problem,omitempty"`
}

func snapshotInspect(ctx context.Context, args []string, stdout io.Writer) error {
	f := newOfflineFlags("snapshot inspect", false)
	offset, generation := addPickFlags(f)
	keys := f.fs.Bool("keys", false, "load the snapshot and count keys and types per database")
	asJSON := f.fs.Bool("json", false, "print JSON")
	if pos, err := f.parse(args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("snapshot inspect: unexpected argument %q", pos[0])
	}
	st, err := f.openStore(ctx)
	if err != nil {
		return err
	}
	info, err := pickSnapshot(ctx, st, *f.dataset, f.given("offset"), *offset, *generation)
	if err != nil {
		return err
	}
	newest, haveNewest, err := manifestNewest(ctx, st, *f.dataset)
	if err != nil {
		return err
	}
	rep := inspectReport{Snapshot: info, Newest: haveNewest && newest.Key == info.Key}

	unit := ""
	if *keys {
		unit = "keys"
	}
	prog := startProgress(progressOutput(os.Stderr), "reading "+info.String(), unit)
	var meta rdb.Meta
	err = snapshot.Read(ctx, st, info, func(r io.Reader) error {
		cr := prog.Reader(r)
		if !*keys {
			var err error
			if meta, err = rdb.ReadMeta(cr); err != nil {
				return err
			}
			// Read the rest, so that the checksum is verified and the size
			// known.
			_, err = io.Copy(io.Discard, cr)
			return err
		}
		ks := keyspace.New(nil)
		ks.OnAdd = func(int, string) { prog.Add(1) }
		var err error
		if meta, err = rdb.Load(cr, ks); err != nil {
			return err
		}
		// Load stops at the checksum; count what may follow it too.
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return err
		}
		rep.Databases = countKeys(ks)
		return nil
	})
	prog.Done()
	if err != nil {
		return err
	}
	rep.RDBBytes = prog.bytes.Load()
	rep.RDBVersion, rep.Aux = meta.Version, meta.Aux
	if meta.Offset != info.Offset || meta.Dataset != info.Dataset {
		rep.Problem = fmt.Sprintf("mislabelled: the RDB says dataset %q offset %d", meta.Dataset, meta.Offset)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := printInspect(stdout, rep); err != nil {
		return err
	}
	if rep.Problem != "" {
		return fmt.Errorf("snapshot %s: %s", info, rep.Problem)
	}
	return nil
}

// countKeys counts keys, expiries and types in each non-empty database.
func countKeys(ks *keyspace.Keyspace) []dbReport {
	var out []dbReport
	for i := 0; i < keyspace.NumDBs; i++ {
		db := ks.DB(i)
		if db.Len() == 0 {
			continue
		}
		r := dbReport{DB: i, Keys: db.Len(), Expires: db.Expires(), Types: map[string]int{}}
		db.Range(func(_ string, o *keyspace.Object) bool {
			r.Types[o.Kind().String()]++
			return true
		})
		out = append(out, r)
	}
	return out
}

// auxOrder is the order inspect prints the AUX fields Redis and ferry
// write; others follow in key order.
var auxOrder = []string{"redis-ver", "redis-bits", "ctime", "used-mem", "aof-base", rdb.AuxOffset, rdb.AuxGeneration, rdb.AuxDataset, rdb.AuxLog}

func printInspect(w io.Writer, rep inspectReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	info := rep.Snapshot
	newest := "no"
	if rep.Newest {
		newest = "yes (the manifest's)"
	}
	fmt.Fprintf(tw, "snapshot\t%s\n", info)
	fmt.Fprintf(tw, "key\t%s\n", info.Key)
	fmt.Fprintf(tw, "offset\t%d\n", info.Offset)
	fmt.Fprintf(tw, "generation\t%s\n", info.Generation)
	fmt.Fprintf(tw, "newest\t%s\n", newest)
	fmt.Fprintf(tw, "created\t%s\n", info.Created.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(tw, "size\t%d bytes compressed, %d bytes of RDB\n", info.Size, rep.RDBBytes)
	fmt.Fprintf(tw, "checksum\t%s (verified)\n", info.Checksum)
	fmt.Fprintf(tw, "rdb version\t%d\n", rep.RDBVersion)
	keys := make([]string, 0, len(rep.Aux))
	for k := range rep.Aux {
		if !slices.Contains(auxOrder, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range append(slices.Clone(auxOrder), keys...) {
		v, ok := rep.Aux[k]
		if !ok {
			continue
		}
		if k == "ctime" {
			if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
				v += " (" + time.Unix(sec, 0).UTC().Format(time.RFC3339) + ")"
			}
		}
		fmt.Fprintf(tw, "aux %s\t%s\n", k, v)
	}
	if rep.Databases != nil {
		total := 0
		for _, db := range rep.Databases {
			total += db.Keys
			types := make([]string, 0, len(db.Types))
			for t := range db.Types {
				types = append(types, t)
			}
			slices.Sort(types)
			line := ""
			for _, t := range types {
				line += fmt.Sprintf(" %s=%d", t, db.Types[t])
			}
			fmt.Fprintf(tw, "db%d\tkeys=%d expires=%d%s\n", db.DB, db.Keys, db.Expires, line)
		}
		fmt.Fprintf(tw, "keys\t%d in %d databases\n", total, len(rep.Databases))
	}
	if rep.Problem != "" {
		fmt.Fprintf(tw, "PROBLEM\t%s\n", rep.Problem)
	}
	return tw.Flush()
}

func snapshotExport(ctx context.Context, args []string, stdout io.Writer) error {
	f := newOfflineFlags("snapshot export", false)
	offset, generation := addPickFlags(f)
	out := f.fs.String("out", "", `the dump.rdb to write ("-": standard output); written to FILE.tmp, then renamed`)
	if pos, err := f.parse(args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("snapshot export: unexpected argument %q", pos[0])
	}
	if *out == "" {
		return errors.New("snapshot export: --out FILE is required")
	}
	st, err := f.openStore(ctx)
	if err != nil {
		return err
	}
	info, err := pickSnapshot(ctx, st, *f.dataset, f.given("offset"), *offset, *generation)
	if err != nil {
		return err
	}
	prog := startProgress(progressOutput(os.Stderr), "exporting "+info.String(), "")
	err = writeOutput(*out, stdout, func(w io.Writer) error {
		return snapshot.Read(ctx, st, info, func(r io.Reader) error {
			_, err := io.Copy(prog.Writer(w), r)
			return err
		})
	})
	prog.Done()
	if err != nil {
		return fmt.Errorf("export %s: %w", info, err)
	}
	if *out != "-" {
		fmt.Fprintf(stdout, "exported %s to %s: %d bytes of RDB\n", info, *out, prog.bytes.Load())
	}
	return nil
}

// writeOutput has write fill the file at path through a buffer: "-" is
// stdout; a file is written as path.tmp, synced and renamed over path only
// when write succeeded, so a failure never leaves a partial file at path.
func writeOutput(path string, stdout io.Writer, write func(w io.Writer) error) error {
	if path == "-" {
		bw := bufio.NewWriterSize(stdout, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	tmp := path + ".tmp"
	fl, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(fl, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = fl.Sync()
	}
	if cerr := fl.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func snapshotImport(ctx context.Context, args []string, stdout io.Writer) error {
	f := newOfflineFlags("snapshot import", true)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New(`snapshot import: want one dump.rdb file ("-": standard input)`)
	}
	file := pos[0]
	logger, err := f.logger()
	if err != nil {
		return err
	}
	st, err := f.openStore(ctx)
	if err != nil {
		return err
	}
	dataset := *f.dataset

	// The dataset must be new: no snapshot, and no entry in the log (a
	// snapshot must contain every entry up to its offset).
	if newest, ok, err := manifestNewest(ctx, st, dataset); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("snapshot import: dataset %q is not new: it has snapshot %s in %s; import seeds new datasets only (pick another --dataset)", dataset, newest, f.store.url)
	}
	if list, err := st.List(ctx, dataset); err != nil {
		return fmt.Errorf("list snapshots of dataset %q: %w", dataset, err)
	} else if len(list) > 0 {
		return fmt.Errorf("snapshot import: dataset %q is not new: %s in %s holds snapshot objects (%s) though no manifest; import seeds new datasets only", dataset, snapshot.SnapshotsPrefix(dataset), f.store.url, list[len(list)-1])
	}
	// The log must be checked too: a master loads a snapshot and replays
	// the log after its offset, which would lay entries written before the
	// import on top of it.
	var offset uint64
	if f.nats.url == "" {
		return fmt.Errorf("snapshot import: --nats is needed: a snapshot holds every log entry up to its offset, so import checks that dataset %q's stream holds none (none at all is fine: the snapshot takes offset 0)", dataset)
	}
	lg, closeLog, err := f.nats.open(ctx, true, logger)
	switch {
	case errors.Is(err, stream.ErrNoLog):
		// No stream: a new dataset, at offset 0.
	case err != nil:
		return fmt.Errorf("open the log of dataset %q: %w", dataset, err)
	default:
		defer closeLog()
		first, err := lg.First(ctx)
		if err != nil {
			return fmt.Errorf("read the log of dataset %q: %w", dataset, err)
		}
		last, err := lg.Last(ctx)
		if err != nil {
			return fmt.Errorf("read the log of dataset %q: %w", dataset, err)
		}
		if last > 0 && first <= last {
			return fmt.Errorf("snapshot import: dataset %q is not new: stream %s holds entries %d to %d, which a snapshot at offset %d would leave out; import seeds new datasets only", dataset, lg.Stream(), first, last, last)
		}
		offset = last
	}

	var in io.Reader = os.Stdin
	if file != "-" {
		fl, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("snapshot import: %w", err)
		}
		defer fl.Close()
		in = fl
	}
	prog := startProgress(progressOutput(os.Stderr), "loading "+file, "keys")
	ks := keyspace.New(nil)
	ks.OnAdd = func(int, string) { prog.Add(1) }
	src, err := rdb.Load(bufio.NewReaderSize(prog.Reader(in), 1<<20), ks)
	prog.Done()
	if err != nil {
		return fmt.Errorf("snapshot import: %s: %w", file, err)
	}
	ks.OnAdd = nil
	// As redis-server does when it loads a file as a master: keys whose
	// time has passed are not loaded.
	ks.Tick()
	expired := dropExpired(ks)

	info := snapshot.Info{Dataset: dataset, Offset: offset, Generation: newGeneration()}
	meta := rdb.Meta{Offset: offset, Generation: info.Generation, Dataset: dataset, Functions: src.Functions}
	prog = startProgress(progressOutput(os.Stderr), "writing "+info.String(), "")
	written, err := snapshot.Write(ctx, st, info, func(w io.Writer) error {
		return rdb.Encode(ks, prog.Writer(w), meta)
	})
	prog.Done()
	if err != nil {
		return fmt.Errorf("snapshot import: write %s: %w", info, err)
	}
	info = written
	keys, dbs := 0, 0
	for _, db := range countKeys(ks) {
		keys += db.Keys
		dbs++
	}
	fmt.Fprintf(stdout, "imported %s (RDB %d, redis-ver %s): %d keys in %d databases", file, src.Version, src.Aux["redis-ver"], keys, dbs)
	if expired > 0 {
		fmt.Fprintf(stdout, ", %d already expired keys left out", expired)
	}
	fmt.Fprintf(stdout, "\nsnapshot %s written: %s, %d bytes\n", info, info.Key, info.Size)
	return nil
}

// dropExpired deletes the keys whose time has passed and returns how many.
func dropExpired(ks *keyspace.Keyspace) int {
	n := 0
	for i := 0; i < keyspace.NumDBs; i++ {
		db := ks.DB(i)
		if db.Expires() == 0 {
			continue
		}
		var gone []string
		db.Range(func(key string, o *keyspace.Object) bool {
			if o.Expire() != 0 && db.IsExpired(o) {
				gone = append(gone, key)
			}
			return true
		})
		for _, k := range gone {
			db.Delete(k)
		}
		n += len(gone)
	}
	return n
}

// newGeneration returns a new random generation id: 16 hex digits.
func newGeneration() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
