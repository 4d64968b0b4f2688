// Package jetstream is ferry's replication log on NATS JetStream: one stream
// per dataset (FERRY_<DATASET>, subject ferry.<dataset>.log, file storage,
// limits retention, discard old), whose stream sequence is the log offset.
//
// Appends are fenced with the expected-last-sequence header, so only the
// writer that knows where the log ends can extend it; a wrong-last-sequence
// answer becomes stream.ErrFenced. Reads follow the log through consumers
// that are made again after a reconnect (follow.go); Read itself checks
// that the offsets it delivers are contiguous, so a gap becomes stream.ErrTruncated
// instead of a silently skipped write. An entry larger than one NATS
// message is kept in an object store bucket beside the stream and
// referenced by its message (large.go).
//
// The connection reconnects forever and has no reconnect buffer: while NATS
// is away, appends fail at once instead of waiting in a client-side buffer
// and landing later, after their caller was told they failed.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
)

// reconnectWait is the pause between reconnect attempts (plus the library's
// jitter). Short, because a master cannot take writes while it waits.
const reconnectWait = 250 * time.Millisecond

// Log is one dataset's log on JetStream. Its methods are safe for concurrent
// use.
type Log struct {
	cfg     Config
	name    string // stream name
	subject string
	url     string // redacted, for errors
	log     *slog.Logger

	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	// created is when the stream Open found or made was created: the log's
	// identity. A stream of the same name with another creation time is
	// another log (deleted and created again), and every read that sees
	// one fails with stream.ErrReplaced.
	created time.Time
	// origin, when the log is read from a mirror (Config.Mirror), is when
	// the stream it mirrors was created: the log's identity, which
	// snapshots record; ojs reaches that stream (checkOrigin).
	origin time.Time
	ojs    jetstream.JetStream
	closed atomic.Bool
	// noDirect is set once the server refused a direct get for want of
	// permission (direct.go), or for a mirror that allows none: reads go
	// through consumers only.
	noDirect atomic.Bool
	// directEntries counts the entries catch-up reads handed over.
	directEntries atomic.Int64

	// inflight maps each unconfirmed AppendAsync message to its outcome;
	// the library's ack and error callbacks resolve them.
	mu       sync.Mutex
	inflight map[*nats.Msg]*pending

	// obs is the bucket of entries larger than one message (large.go),
	// looked up or, with obsMade, created by the first entry that needs it.
	objMu     sync.Mutex
	obs       jetstream.ObjectStore
	obsMade   bool
	noObjects bool // a writer that could not make the bucket: MaxEntry is one message
}

var (
	_ stream.Reader  = (*Log)(nil)
	_ stream.Writer  = (*Log)(nil)
	_ stream.Pending = (*pending)(nil)
)

// Open connects to NATS and makes sure the dataset's stream exists with the
// configured settings: it creates the stream if it is missing, and updates
// the replica count, age and size limits of one that differs. A stream whose
// subject, storage or retention is not ferry's is an error, never changed.
// With cfg.ReadOnly it neither creates nor changes anything. An unreachable
// server is an error naming the URL, within cfg.Timeout.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	name := StreamName(cfg.Dataset)
	if cfg.Mirror != "" {
		name = cfg.Mirror
	}
	l := &Log{
		cfg:      cfg,
		name:     name,
		subject:  Subject(cfg.Dataset),
		url:      redactURL(cfg.URL),
		log:      cfg.Logger.With("stream", name),
		inflight: make(map[*nats.Msg]*pending),
	}

	connectTimeout := cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		connectTimeout = min(connectTimeout, max(time.Until(dl), time.Millisecond))
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Timeout(connectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				l.log.Warn("nats disconnected", "url", l.url, "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			l.log.Info("nats reconnected", "url", redactURL(nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			l.log.Warn("nats async error", "subject", subj, "err", err)
			l.noteAsyncError(err)
		}),
	}
	authOpts, err := cfg.authOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, authOpts...)
	if cfg.InProcess != nil {
		opts = append(opts, nats.InProcessServer(cfg.InProcess))
	}

	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: connect to NATS at %s: %w", l.url, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithDefaultTimeout(cfg.Timeout),
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(cfg.Timeout),
		jetstream.WithPublishAsyncAckHandler(l.onAck),
		jetstream.WithPublishAsyncErrHandler(l.onAsyncErr),
	)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	l.nc, l.js = nc, js
	ensure := l.ensureStream
	if cfg.Mirror != "" {
		ensure = l.ensureMirror
	}
	if err := ensure(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if !cfg.ReadOnly {
		l.ensureBucket(ctx)
	}
	l.log.Info("log opened", "url", l.url, "subject", l.subject)
	return l, nil
}

func (c Config) authOptions() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("jetstream: nkey seed %s: %w", c.NKeySeedFile, err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}

// wantConfig is the stream as ferry creates it.
func (l *Log) wantConfig() jetstream.StreamConfig {
	maxBytes := l.cfg.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:        l.name,
		Description: "ferry replication log of dataset " + l.cfg.Dataset,
		Subjects:    []string{l.subject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    l.cfg.Replicas,
		MaxAge:      l.cfg.MaxAge,
		MaxBytes:    maxBytes,
		MaxMsgs:     -1,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
	}
}

func (l *Log) ensureStream(ctx context.Context) error {
	want := l.wantConfig()
	s, err := l.js.Stream(ctx, l.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if l.cfg.ReadOnly {
			return fmt.Errorf("jetstream: stream %s does not exist (read-only: not creating it): %w (%w)", l.name, stream.ErrNoLog, err)
		}
		s, err = l.js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Created by someone else meanwhile, with other settings:
			// check and update it like any existing stream.
			s, err = l.js.Stream(ctx, l.name)
		} else if err == nil {
			l.log.Info("stream created", "replicas", want.Replicas, "max_age", want.MaxAge, "max_bytes", want.MaxBytes)
		}
	}
	if err != nil {
		return fmt.Errorf("jetstream: stream %s at %s: %w", l.name, l.url, err)
	}
	have := s.CachedInfo().Config
	l.created = s.CachedInfo().Created
	if len(have.Subjects) != 1 || have.Subjects[0] != l.subject {
		return fmt.Errorf("jetstream: stream %s has subjects %q, want [%q]", l.name, have.Subjects, l.subject)
	}
	if have.Storage != jetstream.FileStorage {
		return fmt.Errorf("jetstream: stream %s uses %s storage, want file", l.name, have.Storage)
	}
	if have.Retention != jetstream.LimitsPolicy {
		return fmt.Errorf("jetstream: stream %s has %s retention, want limits", l.name, have.Retention)
	}
	countLimit := have.MaxMsgs != -1 || have.MaxMsgsPerSubject > 0
	if countLimit {
		// A message-count limit (set on the stream by hand) drops entries
		// whether or not a snapshot holds them, and no master plans
		// snapshots for it: a writer removes it.
		l.log.Warn("stream has a message count limit: a writer removes it", "max_msgs", have.MaxMsgs, "max_msgs_per_subject", have.MaxMsgsPerSubject, "read_only", l.cfg.ReadOnly)
	}
	if have.Replicas == want.Replicas && have.MaxAge == want.MaxAge && have.MaxBytes == want.MaxBytes &&
		have.Discard == want.Discard && have.AllowDirect == want.AllowDirect && !countLimit {
		l.stream = s
		return nil
	}
	if l.cfg.ReadOnly {
		l.stream = s
		return nil
	}
	upd := have
	upd.Replicas, upd.MaxAge, upd.MaxBytes = want.Replicas, want.MaxAge, want.MaxBytes
	upd.Discard, upd.AllowDirect = want.Discard, want.AllowDirect
	upd.MaxMsgs, upd.MaxMsgsPerSubject = -1, 0
	s, err = l.js.UpdateStream(ctx, upd)
	if err != nil {
		return fmt.Errorf("jetstream: update stream %s: %w", l.name, err)
	}
	l.log.Info("stream updated", "replicas", upd.Replicas, "max_age", upd.MaxAge, "max_bytes", upd.MaxBytes)
	l.stream = s
	return nil
}

// ensureMirror checks that the stream Config.Mirror names mirrors the
// dataset's stream, and reads the identity of the stream it mirrors: a
// replica checks the snapshots it loads against it. The mirrored stream
// is asked through the mirror's API prefix, when the mirror has one
// (another JetStream domain). A mirror without direct gets is read
// through consumers only.
func (l *Log) ensureMirror(ctx context.Context) error {
	origin := StreamName(l.cfg.Dataset)
	s, err := l.js.Stream(ctx, l.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("jetstream: mirror %s does not exist: %w (%w)", l.name, stream.ErrNoLog, err)
	}
	if err != nil {
		return fmt.Errorf("jetstream: mirror %s at %s: %w", l.name, l.url, err)
	}
	info := s.CachedInfo()
	m := info.Config.Mirror
	if m == nil || m.Name != origin {
		return fmt.Errorf("jetstream: stream %s is not a mirror of %s", l.name, origin)
	}
	ojs := l.js
	if m.External != nil && m.External.APIPrefix != "" {
		if ojs, err = jetstream.NewWithAPIPrefix(l.nc, m.External.APIPrefix); err != nil {
			return fmt.Errorf("jetstream: mirror %s: %w", l.name, err)
		}
	}
	o, err := ojs.Stream(ctx, origin)
	if err != nil {
		return fmt.Errorf("jetstream: stream %s, which %s mirrors, for its identity: %w", origin, l.name, err)
	}
	if oc := o.CachedInfo().Created; info.Created.Before(oc) {
		// Made again after the mirror: the mirror kept the entries of
		// the earlier log and goes on with the new one's at the next
		// offsets.
		return fmt.Errorf("jetstream: mirror %s was created at %s, before %s (created at %s): it may hold entries of an earlier log of the dataset; delete the mirror and create it again (across domains, check the servers' clocks)",
			l.name, info.Created.UTC().Format(time.RFC3339Nano), origin, oc.UTC().Format(time.RFC3339Nano))
	}
	l.stream, l.created, l.origin, l.ojs = s, info.Created, o.CachedInfo().Created, ojs
	if !info.Config.AllowDirect {
		l.noDirect.Store(true)
	}
	return nil
}

// Mirror reports whether the log is read from a mirror (Config.Mirror).
func (l *Log) Mirror() bool { return l.cfg.Mirror != "" }

// Stream returns the name of the JetStream stream that holds the log.
func (l *Log) Stream() string { return l.name }

// Range returns the first and last offsets with one request: what First
// and Last return (First of an empty log is Last+1).
func (l *Log) Range(ctx context.Context) (first, last uint64, err error) {
	info, err := l.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	first, last = info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 || first == 0 {
		first = last + 1
	}
	return first, last, nil
}

var _ stream.Identified = (*Log)(nil)

// Identity is the creation time of the stream Open found (for a mirror,
// of the stream it mirrors, read when Open ran), which JetStream keeps
// across server restarts and cluster leader changes, in UTC with
// nanoseconds.
func (l *Log) Identity() string {
	if l.cfg.Mirror != "" {
		return l.origin.UTC().Format(time.RFC3339Nano)
	}
	return l.created.UTC().Format(time.RFC3339Nano)
}

// replaced is the error for a stream found with creation time created,
// not the one Open found: the log was deleted and created again.
func (l *Log) replaced(created time.Time) error {
	return fmt.Errorf("jetstream: stream %s was created at %s, not at %s as when this node opened it: %w; restart the node to start over from a snapshot",
		l.name, created.UTC().Format(time.RFC3339Nano), l.created.UTC().Format(time.RFC3339Nano), stream.ErrReplaced)
}

// checkIdentity returns stream.ErrReplaced (wrapped) if the log's stream
// is no longer the one Open found, or the error that kept it from asking.
func (l *Log) checkIdentity(ctx context.Context) error {
	if _, _, err := l.Range(ctx); err != nil {
		return err
	}
	return l.checkOrigin(ctx)
}

// checkOrigin returns stream.ErrReplaced (wrapped) when the log is read
// from a mirror and the stream it mirrors is not the one Open found, or
// the error that kept it from asking; nil for a log read from its stream.
func (l *Log) checkOrigin(ctx context.Context) error {
	if l.cfg.Mirror == "" {
		return nil
	}
	origin := StreamName(l.cfg.Dataset)
	o, err := l.ojs.Stream(ctx, origin)
	if err != nil {
		return l.mapErr(fmt.Errorf("jetstream: stream %s, which %s mirrors: %w", origin, l.name, err))
	}
	if c := o.CachedInfo().Created; !c.Equal(l.origin) {
		return fmt.Errorf("jetstream: stream %s, which %s mirrors, was created at %s, not at %s as when this node opened it: %w; delete the mirror, create it again and restart the node",
			origin, l.name, c.UTC().Format(time.RFC3339Nano), l.origin.UTC().Format(time.RFC3339Nano), stream.ErrReplaced)
	}
	return nil
}

// First returns the offset of the first retained entry; for a log with no
// entries (new, or all removed by retention) it returns Last+1.
func (l *Log) First(ctx context.Context) (uint64, error) {
	first, _, err := l.Range(ctx)
	return first, err
}

// Last returns the offset of the last entry ever appended, 0 for a new log.
func (l *Log) Last(ctx context.Context) (uint64, error) {
	_, last, err := l.Range(ctx)
	return last, err
}

// lagRetries are the pauses before a read asks again for an entry that
// was not found although the stream's leader says it lies between the
// first and last offsets, or for a large entry's object that was not
// found, or found short, although its message was. With direct gets on a
// clustered stream a follower answers, and a follower may not yet have
// applied what the leader has acknowledged (TestClusterGetOnFollower in
// e2e saw 15-20% of entries read right after their append reported
// removed, and 1-7% of large entries' objects missing or short); an entry
// truly removed stays missing.
var lagRetries = [...]time.Duration{10 * time.Millisecond, 40 * time.Millisecond, 200 * time.Millisecond}

// whileLagging calls read until it reports no follower's lag, or once more
// after each pause of lagRetries, and returns its last error (ctx's, if ctx
// ends during a pause).
func whileLagging(ctx context.Context, read func() (lagging bool, err error)) error {
	for _, pause := range lagRetries {
		lagging, err := read()
		if !lagging {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	_, err := read()
	return err
}

// Get returns the entry at offset: stream.ErrTruncated if retention removed
// it, stream.ErrAhead if it is past the last entry. A writer whose append
// ended in an unknown outcome can compare it with what it sent. An entry
// in the middle of the log that a lagging follower does not have yet (or
// not with its whole object) is asked for again, for up to about 250 ms,
// before Get calls it removed.
func (l *Log) Get(ctx context.Context, offset uint64) (en stream.Entry, err error) {
	err = whileLagging(ctx, func() (lagging bool, err error) {
		if l.closed.Load() {
			return false, stream.ErrClosed
		}
		m, err := l.stream.GetMsg(ctx, offset)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			first, last, serr := l.Range(ctx)
			switch {
			case serr != nil:
				return false, serr
			case offset > last:
				return false, fmt.Errorf("get %d: last offset is %d: %w", offset, last, stream.ErrAhead)
			case offset < first:
				return false, fmt.Errorf("get %d: first retained offset is %d: %w", offset, first, stream.ErrTruncated)
			}
			return true, fmt.Errorf("get %d: removed from the middle of the log: %w", offset, stream.ErrTruncated)
		}
		if err != nil {
			return false, l.mapErr(fmt.Errorf("jetstream: get %d: %w", offset, err))
		}
		// objectData asks again itself for an object a follower lacks.
		data := m.Data
		obj, ok, err := l.objectData(ctx, offset, m.Header)
		if err != nil {
			return false, err
		}
		if ok {
			data = obj
		}
		en = stream.Entry{Offset: m.Sequence, Data: data, Time: m.Time}
		return false, nil
	})
	if err != nil {
		return stream.Entry{}, err
	}
	return en, nil
}

// Close closes the connection. AppendAsync calls not yet confirmed end with
// stream.ErrClosed (their outcome is unknown: wait on them first to know);
// a Read in progress returns stream.ErrClosed.
func (l *Log) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	l.nc.Close()
	l.mu.Lock()
	left := l.inflight
	l.inflight = make(map[*nats.Msg]*pending)
	l.mu.Unlock()
	for _, p := range left {
		p.resolve(0, fmt.Errorf("append after %d: outcome unknown: %w", p.expect, stream.ErrClosed))
	}
	return nil
}

// MaxPayload is the most bytes one message can hold, headers included: the
// NATS server's max_payload (as it told this connection). Larger entries
// go through the object store (MaxEntry).
func (l *Log) MaxPayload() int { return int(l.nc.MaxPayload()) }

// mapErr turns backend errors into the stream package's sentinels.
func (l *Log) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if isWrongLastSequence(err) {
		return fmt.Errorf("%w (%w)", stream.ErrFenced, err)
	}
	if l.closed.Load() || errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("%w (%w)", stream.ErrClosed, err)
	}
	if errors.Is(err, nats.ErrReconnectBufExceeded) {
		// What a request gets while the client reconnects and its buffer
		// is full: say what it means.
		return fmt.Errorf("jetstream: NATS server unreachable, reconnecting: %w", err)
	}
	return err
}

// isWrongLastSequence matches JetStream's answer to a failed
// expected-last-sequence check by its API error code (10071; 10164 on
// replicated streams).
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

func formatOffset(n uint64) string { return strconv.FormatUint(n, 10) }

// Connected reports whether the connection to the NATS server is up.
func (l *Log) Connected() bool { return l.nc.IsConnected() }

// Trim removes the entries below keepFrom (JetStream's purge up to a
// sequence), and the objects of the large ones among them. Last does not
// move.
func (l *Log) Trim(ctx context.Context, keepFrom uint64) error {
	if keepFrom <= 1 {
		return nil
	}
	if l.cfg.Mirror != "" {
		return fmt.Errorf("jetstream: trim %s: a mirror follows the stream it mirrors, not ferry's retention", l.name)
	}
	if err := l.stream.Purge(ctx, jetstream.WithPurgeSequence(keepFrom)); err != nil {
		return fmt.Errorf("jetstream: trim %s below %d: %w", l.name, keepFrom, err)
	}
	if err := l.trimObjects(ctx, keepFrom); err != nil {
		return fmt.Errorf("jetstream: trim the objects of %s below %d: %w", l.name, keepFrom, err)
	}
	return nil
}
