package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// runLog runs "ferry log <info|show>".
func runLog(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return logCmd(ctx, args, os.Stdout)
}

const logUsage = `usage: ferry log <command> --nats URL --dataset NAME [flags]

commands:
  info   the dataset's stream: identity, first and last offsets, entries, bytes, limits
  show   entries with their commands: the last 10, or --from N --count K

Both only read: they never create or change the stream.
Run "ferry log <command> -h" for its flags.
`

// logCmd dispatches a log subcommand; reports go to stdout.
func logCmd(ctx context.Context, args []string, stdout io.Writer) error {
	return dispatch(ctx, "log", logUsage, args, stdout, map[string]subcommand{"info": logInfo, "show": logShow})
}

// newLogFlags returns the flags of a log tool: where the log is and which
// dataset's (no --store: the log tools read no snapshot).
func newLogFlags(name string) *offlineFlags {
	f := &offlineFlags{fs: newFlagSet(name)}
	f.nats = addNATSFlags(f.fs)
	f.fs.StringVar(&f.nats.mirror, "log-mirror", "", "read the log from this JetStream mirror of FERRY_<DATASET> (say in this region's NATS cluster) instead of from the stream itself")
	f.dataset = &f.nats.dataset
	f.logLevel = f.fs.String("log-level", "warn", "log level: debug, info, warn, error")
	return f
}

// openLogReadOnly parses a log tool's command line and opens the
// dataset's log read-only. The returned function closes it.
func openLogReadOnly(ctx context.Context, f *offlineFlags, args []string) (*jetstream.Log, func(), error) {
	if pos, err := f.parse(args); err != nil {
		return nil, nil, err
	} else if len(pos) > 0 {
		return nil, nil, fmt.Errorf("%s: unexpected argument %q", f.fs.Name(), pos[0])
	}
	if f.nats.url == "" {
		return nil, nil, fmt.Errorf("%s: --nats URL is required (or FERRY_NATS)", f.fs.Name())
	}
	logger, err := f.logger()
	if err != nil {
		return nil, nil, err
	}
	dataset := *f.dataset
	lg, closeLog, err := f.nats.open(ctx, true, logger)
	if errors.Is(err, stream.ErrNoLog) && f.nats.mirror != "" {
		return nil, nil, fmt.Errorf("dataset %q: --log-mirror %s: %w", dataset, f.nats.mirror, err)
	}
	if errors.Is(err, stream.ErrNoLog) {
		return nil, nil, fmt.Errorf("dataset %q has no log: the NATS server has no stream %s (nothing was ever written to the dataset, or --dataset is wrong): %w",
			dataset, jetstream.StreamName(dataset), stream.ErrNoLog)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open the log of dataset %q: %w", dataset, err)
	}
	return lg, closeLog, nil
}

// logInfoReport is what log info prints.
type logInfoReport struct {
	Dataset string `json:"dataset"`
	Stream  string `json:"stream"`
	// MirrorOf is the dataset's stream when Stream is a mirror of it
	// (--log-mirror); Subject is then the origin's.
	MirrorOf string `json:"mirror_of,omitempty"`
	Subject  string `json:"subject"`
	// Identity is the stream's creation time: snapshots record it, and a
	// log deleted and created again has another.
	Identity string `json:"identity"`
	// First and Last are the retained range; First is Last+1 when the log
	// holds no entries.
	First   uint64 `json:"first"`
	Last    uint64 `json:"last"`
	Entries uint64 `json:"entries"`
	// Bytes is the stream's size; the data of large entries is in Bucket.
	Bytes     uint64     `json:"bytes"`
	Bucket    string     `json:"bucket"`
	FirstTime *time.Time `json:"first_time,omitempty"`
	LastTime  *time.Time `json:"last_time,omitempty"`
	// MaxAge is a Go duration, "0s" for none; MaxBytes is -1 for none.
	MaxAge   string `json:"max_age"`
	MaxBytes int64  `json:"max_bytes"`
	Replicas int    `json:"replicas"`
	Leader   string `json:"leader,omitempty"`
}

func logInfo(ctx context.Context, args []string, stdout io.Writer) error {
	f := newLogFlags("log info")
	asJSON := f.fs.Bool("json", false, "print JSON")
	lg, closeLog, err := openLogReadOnly(ctx, f, args)
	if err != nil {
		return err
	}
	defer closeLog()
	si, err := lg.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the log of dataset %q: %w", *f.dataset, err)
	}
	st := si.State
	rep := logInfoReport{
		Dataset: *f.dataset, Stream: lg.Stream(), Subject: jetstream.Subject(*f.dataset), Identity: lg.Identity(),
		First: st.FirstSeq, Last: st.LastSeq, Entries: st.Msgs, Bytes: st.Bytes, Bucket: jetstream.BucketName(*f.dataset),
		MaxAge: si.Config.MaxAge.String(), MaxBytes: si.Config.MaxBytes, Replicas: si.Config.Replicas,
	}
	if f.nats.mirror != "" {
		rep.MirrorOf = jetstream.StreamName(*f.dataset)
	}
	if st.Msgs == 0 || st.FirstSeq == 0 {
		rep.First = st.LastSeq + 1 // as Log.First says of an empty log
	} else {
		ft, lt := st.FirstTime.UTC(), st.LastTime.UTC()
		rep.FirstTime, rep.LastTime = &ft, &lt
	}
	if si.Cluster != nil && si.Cluster.Name != "" {
		// Clustered: which server leads the stream (a standalone server
		// names itself).
		rep.Leader = si.Cluster.Leader
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printLogInfo(stdout, rep, si.State.NumDeleted)
}

func printLogInfo(w io.Writer, rep logInfoReport, deleted int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "dataset\t%s\n", rep.Dataset)
	if rep.MirrorOf != "" {
		fmt.Fprintf(tw, "stream\t%s (a mirror of %s, subject %s)\n", rep.Stream, rep.MirrorOf, rep.Subject)
		fmt.Fprintf(tw, "identity\t%s (%s's creation time)\n", rep.Identity, rep.MirrorOf)
	} else {
		fmt.Fprintf(tw, "stream\t%s (subject %s)\n", rep.Stream, rep.Subject)
		fmt.Fprintf(tw, "identity\t%s (the stream's creation time)\n", rep.Identity)
	}
	fmt.Fprintf(tw, "first\t%d\n", rep.First)
	fmt.Fprintf(tw, "last\t%d\n", rep.Last)
	entries := strconv.FormatUint(rep.Entries, 10)
	if deleted > 0 {
		entries += fmt.Sprintf(" (%d deleted from the middle)", deleted)
	}
	fmt.Fprintf(tw, "entries\t%s\n", entries)
	fmt.Fprintf(tw, "bytes\t%d (large entries' data is in object store bucket %s)\n", rep.Bytes, rep.Bucket)
	if rep.FirstTime != nil {
		fmt.Fprintf(tw, "first stored\t%s\n", rep.FirstTime.Format(time.RFC3339Nano))
		fmt.Fprintf(tw, "last stored\t%s\n", rep.LastTime.Format(time.RFC3339Nano))
	}
	maxAge := rep.MaxAge
	if maxAge == "0s" {
		maxAge = "none"
	}
	fmt.Fprintf(tw, "max age\t%s\n", maxAge)
	maxBytes := "none"
	if rep.MaxBytes >= 0 {
		maxBytes = strconv.FormatInt(rep.MaxBytes, 10)
	}
	fmt.Fprintf(tw, "max bytes\t%s\n", maxBytes)
	fmt.Fprintf(tw, "replicas\t%d\n", rep.Replicas)
	if rep.Leader != "" {
		fmt.Fprintf(tw, "leader\t%s\n", rep.Leader)
	}
	return tw.Flush()
}

// badBytesShown is how many of an entry's undecodable bytes show prints.
const badBytesShown = 256

// showOptions are log show's output settings.
type showOptions struct {
	json     bool
	argBytes int // text: arguments are cut after this many bytes; 0: never
}

func logShow(ctx context.Context, args []string, stdout io.Writer) error {
	f := newLogFlags("log show")
	from := f.fs.Uint64("from", 0, "the first offset to show (default: the last --count entries)")
	count := f.fs.Uint64("count", 10, "how many entries to show; 0: every one up to the last offset when the command starts (it does not wait for more)")
	var opts showOptions
	f.fs.BoolVar(&opts.json, "json", false, "print one JSON object per entry, per line: offset, time, bytes, commands (arrays of strings; "+
		"an argument that is not valid UTF-8 is given base64-encoded instead, and its [command, argument] indexes, from 0, "+
		"are listed in base64_args), and for an entry that does not parse, error, undecodable_bytes and the first "+
		strconv.Itoa(badBytesShown)+" of them base64-encoded in undecodable; an offset with no entry has missing and error")
	f.fs.IntVar(&opts.argBytes, "arg-bytes", 256, "text output: print at most this many bytes of an argument, then its size; 0: whole arguments")
	lg, closeLog, err := openLogReadOnly(ctx, f, args)
	if err != nil {
		return err
	}
	defer closeLog()
	first, last, err := lg.Range(ctx)
	if err != nil {
		return fmt.Errorf("read the log of dataset %q: %w", *f.dataset, err)
	}
	start, end, err := showRange(f.given("from") || os.Getenv(envName("from")) != "", *from, *count, first, last, lg.Stream())
	if err != nil {
		return err
	}
	if start > end {
		if !opts.json {
			fmt.Fprintf(stdout, "stream %s holds no entries (last offset %d)\n", lg.Stream(), last)
		}
		return nil
	}
	bw := bufio.NewWriterSize(stdout, 64<<10)
	err = showEntries(ctx, lg, start, end, opts, bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// showRange returns the offsets show prints, start to end inclusive
// (start > end: none), checking a given --from against the log's range
// [first, last].
func showRange(fromGiven bool, from, count, first, last uint64, streamName string) (start, end uint64, err error) {
	if !fromGiven {
		start = first
		if count > 0 && last >= count && last-count+1 > first {
			start = last - count + 1
		}
		return start, last, nil
	}
	held := fmt.Sprintf("it holds offsets %d to %d", first, last)
	if first > last {
		held = fmt.Sprintf("it holds no entries, last offset %d", last)
	}
	switch {
	case from == 0:
		return 0, 0, fmt.Errorf("log show: --from 0: offsets start at 1 (stream %s: %s)", streamName, held)
	case from < first:
		return 0, 0, fmt.Errorf("log show: offset %d is no longer in stream %s (%s): %w", from, streamName, held, stream.ErrTruncated)
	case from > last:
		return 0, 0, fmt.Errorf("log show: offset %d is past the end of stream %s (%s): %w", from, streamName, held, stream.ErrAhead)
	}
	end = last
	if count > 0 && count-1 < last-from {
		end = from + count - 1
	}
	return from, end, nil
}

// showEntries prints the entries from start to end, read in batches. An
// entry missing from the middle of the log is reported and skipped;
// entries removed by retention while show reads end it with
// stream.ErrTruncated.
func showEntries(ctx context.Context, lg *jetstream.Log, start, end uint64, opts showOptions, w io.Writer) error {
	var (
		scratch [][]byte
		next    = start // the offset after the last one printed
		werr    error   // w's
	)
	err := lg.GetEntries(ctx, start, end, func(en stream.Entry, missing error) error {
		next = en.Offset + 1
		if missing != nil {
			werr = printMissing(w, en.Offset, missing, opts)
			return werr
		}
		var view entryView
		view, scratch = parseEntry(en, scratch)
		if opts.json {
			werr = printEntryJSON(w, view)
		} else {
			werr = printEntryText(w, view, opts.argBytes)
		}
		return werr
	})
	if err != nil && werr == nil {
		return fmt.Errorf("log show: entry %d: %w", next, err)
	}
	return err
}

// entryView is one entry as show prints it.
type entryView struct {
	offset uint64
	time   time.Time
	size   int
	// commands are the commands that parsed, in order; they alias the
	// entry's data.
	commands [][][]byte
	// err is why the rest of the entry, bad, does not parse.
	err error
	bad []byte
}

// parseEntry parses en's commands as far as they go. scratch is reused
// parse space; parseEntry returns it grown.
func parseEntry(en stream.Entry, scratch [][]byte) (entryView, [][]byte) {
	v := entryView{offset: en.Offset, time: en.Time, size: len(en.Data)}
	parsed := 0 // bytes of whole commands
	scratch, err := resp.ParseCommands(en.Data, scratch[:0], func(args [][]byte, rest []byte) error {
		v.commands = append(v.commands, append([][]byte(nil), args...))
		parsed = len(en.Data) - len(rest)
		return nil
	})
	if err != nil {
		// Worded as a replica's apply loop reports the entry.
		v.err = fmt.Errorf("malformed entry: %w", err)
		v.bad = en.Data[parsed:]
	}
	return v, scratch
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// printEntryText prints an entry's header line, then each command on a
// line of its own, indented, its arguments quoted as redis-cli quotes
// them, then what does not parse.
func printEntryText(w io.Writer, v entryView, argBytes int) error {
	b := fmt.Appendf(nil, "entry %d", v.offset)
	if !v.time.IsZero() {
		b = append(b, " at "...)
		b = v.time.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = fmt.Appendf(b, ": %s, %s\n", plural(len(v.commands), "command"), plural(v.size, "byte"))
	for _, args := range v.commands {
		b = append(b, "    "...)
		for i, a := range args {
			if i > 0 {
				b = append(b, ' ')
			}
			if argBytes > 0 && len(a) > argBytes {
				b = command.AppendRepr(b, a[:argBytes])
				b = fmt.Appendf(b, "...(%s)", plural(len(a), "byte"))
				continue
			}
			b = command.AppendRepr(b, a)
		}
		b = append(b, '\n')
	}
	if v.err != nil {
		b = fmt.Appendf(b, "    error: %v\n", v.err)
		b = fmt.Appendf(b, "    undecodable %s from byte %d: ", plural(len(v.bad), "byte"), v.size-len(v.bad))
		if len(v.bad) > badBytesShown {
			b = command.AppendRepr(b, v.bad[:badBytesShown])
			b = append(b, "..."...)
		} else {
			b = command.AppendRepr(b, v.bad)
		}
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}

// printMissing reports an offset inside the log's range that has no entry
// (one deleted from the middle of the stream by hand).
func printMissing(w io.Writer, off uint64, err error, opts showOptions) error {
	if opts.json {
		return json.NewEncoder(w).Encode(entryJSON{Offset: off, Missing: true, Error: err.Error()})
	}
	_, werr := fmt.Fprintf(w, "entry %d: missing: %v\n", off, err)
	return werr
}

// entryJSON is one entry as show --json prints it.
type entryJSON struct {
	Offset uint64 `json:"offset"`
	// Missing marks an offset inside the log's range without an entry
	// (deleted from the middle of the stream by hand); Error says why.
	Missing bool       `json:"missing,omitempty"`
	Time    *time.Time `json:"time,omitempty"`
	Bytes   int        `json:"bytes"`
	// Commands are the commands that parsed, each an array of arguments;
	// an argument that is not valid UTF-8 is given base64-encoded and
	// listed in Base64Args.
	Commands   [][]string `json:"commands"`
	Base64Args [][2]int   `json:"base64_args,omitempty"`
	Error      string     `json:"error,omitempty"`
	// UndecodableBytes counts the bytes after the commands that parsed;
	// Undecodable holds the first badBytesShown of them, base64-encoded.
	UndecodableBytes int    `json:"undecodable_bytes,omitempty"`
	Undecodable      string `json:"undecodable,omitempty"`
}

func printEntryJSON(w io.Writer, v entryView) error {
	out := entryJSON{Offset: v.offset, Bytes: v.size, Commands: make([][]string, len(v.commands))}
	if !v.time.IsZero() {
		t := v.time.UTC()
		out.Time = &t
	}
	for i, args := range v.commands {
		cmd := make([]string, len(args))
		for j, a := range args {
			if utf8.Valid(a) {
				cmd[j] = string(a)
			} else {
				cmd[j] = base64.StdEncoding.EncodeToString(a)
				out.Base64Args = append(out.Base64Args, [2]int{i, j})
			}
		}
		out.Commands[i] = cmd
	}
	if v.err != nil {
		out.Error = v.err.Error()
		out.UndecodableBytes = len(v.bad)
		out.Undecodable = base64.StdEncoding.EncodeToString(v.bad[:min(len(v.bad), badBytesShown)])
	}
	return json.NewEncoder(w).Encode(out)
}
