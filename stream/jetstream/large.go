package jetstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
)

// Large entries. One NATS message holds at most the server's max_payload (1
// MB by default), less than one Redis value may be. An entry larger than a
// message is first stored as an object in the dataset's JetStream object
// store bucket (FERRY_<DATASET>_ENTRIES, NATS's own chunked, checksummed
// format), then referenced by a log message with an empty body and the
// objectHeader header naming it. The log keeps one message per entry, so
// offsets, fencing and retention are unchanged; Read and Get return the
// object's bytes as the entry's data.
//
// Objects are named after the offset their entry was meant to have and a
// random suffix, so two writers never overwrite each other's object.
// Trim deletes the objects below the offset it keeps from, and the
// bucket's age limit is the log's plus objectAgeMargin, so retention by age
// never drops an object before its message. An object whose append was
// fenced is deleted at once; one whose append had an unknown outcome stays
// until Trim or the age limit removes it.

// objectHeader names the object that holds a message's entry, and
// objectSizeHeader gives its size, which bounds the object's transfer.
const (
	objectHeader     = "Ferry-Object"
	objectSizeHeader = "Ferry-Object-Size"
)

// objectAgeMargin is how much longer than the log's entries the bucket
// keeps objects: an object is stored just before the message that
// references it.
const objectAgeMargin = time.Minute

// headerRoom is what an entry's message needs beside its data (the
// expected-last-sequence header); data larger than max_payload less this
// goes into an object.
const headerRoom = 1 << 10

// DefaultMaxEntryBytes is the largest entry a Log takes unless
// Config.MaxEntryBytes says otherwise: Redis's largest bulk string
// (proto-max-bulk-len).
const DefaultMaxEntryBytes = 512 << 20

// BucketName is the object store bucket that holds dataset's entries
// larger than one NATS message.
func BucketName(dataset string) string { return StreamName(dataset) + "_ENTRIES" }

// MaxEntry is the most bytes one entry can hold: Config.MaxEntryBytes, or
// what one message holds for a writer that could not make its bucket.
func (l *Log) MaxEntry() int {
	if l.noObjects {
		return min(l.cfg.MaxEntryBytes, int(l.nc.MaxPayload())-headerRoom)
	}
	return l.cfg.MaxEntryBytes
}

// ensureBucket makes a writer's bucket when the log opens. A writer that
// cannot (NATS permissions without the object store's subjects, an
// account's stream limit) takes entries of one message only: its master
// then refuses larger writes before they run, rather than failing an
// append after applying them, which would stop it until it rebuilt its
// keyspace, once per large write.
func (l *Log) ensureBucket(ctx context.Context) {
	// A denied request gets no answer: bound the wait.
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	if _, err := l.bucket(ctx, true); err != nil {
		l.noObjects = true
		l.log.Warn("no object store for entries larger than one message: writes are limited to one message",
			"bucket", BucketName(l.cfg.Dataset), "max_entry", l.MaxEntry(), "err", err)
	}
}

// inline reports whether data fits in one message.
func (l *Log) inline(data []byte) bool {
	return len(data) <= int(l.nc.MaxPayload())-headerRoom
}

// maxChunk is the largest chunk an object is stored in: the object
// store's default.
const maxChunk = 128 << 10

// chunkSize is the size of an object's chunks: maxChunk, or less when the
// server's messages are smaller.
func (l *Log) chunkSize() uint32 {
	return uint32(min(maxChunk, int(l.nc.MaxPayload())-headerRoom))
}

// objectName names the object of an entry appended after expectLast.
func objectName(expectLast uint64) string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%020d-%s", expectLast+1, hex.EncodeToString(b[:]))
}

// objectOffset is the offset in an object's name.
func objectOffset(name string) (uint64, bool) {
	head, _, ok := strings.Cut(name, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(head, 10, 64)
	return n, err == nil
}

// bucket returns the entries' object store, creating or updating it when
// create is set (writers); readers get jetstream.ErrBucketNotFound while no
// writer has made it.
func (l *Log) bucket(ctx context.Context, create bool) (jetstream.ObjectStore, error) {
	l.objMu.Lock()
	defer l.objMu.Unlock()
	if l.obs != nil && (l.obsMade || !create) {
		return l.obs, nil
	}
	var (
		obs jetstream.ObjectStore
		err error
	)
	if create {
		ttl := time.Duration(0)
		if l.cfg.MaxAge > 0 {
			ttl = l.cfg.MaxAge + objectAgeMargin
		}
		obs, err = l.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      BucketName(l.cfg.Dataset),
			Description: "ferry log entries larger than one message, dataset " + l.cfg.Dataset,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    l.cfg.Replicas,
		})
	} else {
		// A mirror's reader reads the objects where the mirrored stream
		// is (in its domain, for a mirror in another).
		js := l.js
		if l.ojs != nil {
			js = l.ojs
		}
		obs, err = js.ObjectStore(ctx, BucketName(l.cfg.Dataset))
	}
	if err != nil {
		return nil, err
	}
	l.obs, l.obsMade = obs, create
	return obs, nil
}

// putObject stores data as the object of the entry after expectLast and
// returns its name, once the server has stored all of it.
func (l *Log) putObject(data []byte, expectLast uint64) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.transferTimeout(len(data)))
	defer cancel()
	obs, err := l.bucket(ctx, true)
	if err != nil {
		return "", fmt.Errorf("append after %d: object store %s: %w", expectLast, BucketName(l.cfg.Dataset), l.mapErr(err))
	}
	name := objectName(expectLast)
	meta := jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: l.chunkSize()}}
	if _, err := obs.Put(ctx, meta, bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("append after %d: put object %s (%d bytes): %w", expectLast, name, len(data), l.mapErr(err))
	}
	return name, nil
}

// transferTimeout bounds moving n bytes to or from the object store, in
// chunks: Config.Timeout once per started 4 MiB.
func (l *Log) transferTimeout(n int) time.Duration {
	return l.cfg.Timeout * time.Duration(1+n>>22)
}

// objectData returns the data of the entry at offset whose message has
// header h, when that names an object (ok false: the entry is the message
// body). An object that is gone (or a bucket that was never made) means
// the entry is: stream.ErrTruncated.
func (l *Log) objectData(ctx context.Context, offset uint64, h nats.Header) (data []byte, ok bool, err error) {
	name := h.Get(objectHeader)
	if name == "" {
		return nil, false, nil
	}
	size, err := strconv.Atoi(h.Get(objectSizeHeader))
	if err != nil {
		size = l.cfg.MaxEntryBytes
	}
	// The entry's message is there, so its object was stored before it:
	// a follower of a clustered stream that answers without it, or with
	// part of its chunks (a digest mismatch), is behind, and is asked again
	// (whileLagging) before the object is called gone.
	err = whileLagging(ctx, func() (lagging bool, err error) {
		obs, err := l.bucket(ctx, false)
		if err == nil {
			// Without a deadline of its own, the whole transfer would get
			// the library's default timeout.
			getCtx, cancel := context.WithTimeout(ctx, l.transferTimeout(size))
			data, err = obs.GetBytes(getCtx, name)
			cancel()
		}
		lagging = errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrDigestMismatch)
		return lagging, err
	})
	if err == nil {
		return data, true, nil
	}
	if errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, true, fmt.Errorf("read at %d: the entry's object %s in bucket %s is gone: %w", offset, name, BucketName(l.cfg.Dataset), stream.ErrTruncated)
	}
	return nil, true, fmt.Errorf("read at %d: object %s in bucket %s: %w", offset, name, BucketName(l.cfg.Dataset), l.mapErr(err))
}

// deleteObject removes an object and its metadata for good. The object
// store's own Delete leaves a deletion marker per name; names are never
// reused, so the markers would pile up: both subjects are purged instead
// (their names are the object store's documented layout, NATS ADR-20).
func (l *Log) deleteObject(ctx context.Context, info *jetstream.ObjectInfo) error {
	s, err := l.js.Stream(ctx, "OBJ_"+info.Bucket)
	if err != nil {
		return err
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject("$O."+info.Bucket+".C."+info.NUID)); err != nil {
		return err
	}
	return s.Purge(ctx, jetstream.WithPurgeSubject("$O."+info.Bucket+".M."+base64.URLEncoding.EncodeToString([]byte(info.Name))))
}

// dropObject deletes the object of an append that was fenced: its message
// was never stored, so nothing references it.
func (l *Log) dropObject(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
	defer cancel()
	obs, err := l.bucket(ctx, true)
	if err == nil {
		var info *jetstream.ObjectInfo
		if info, err = obs.GetInfo(ctx, name); err == nil {
			err = l.deleteObject(ctx, info)
		}
	}
	if err != nil {
		l.log.Warn("could not delete the object of a fenced append; Trim or the age limit will", "object", name, "err", err)
	}
}

// trimObjects deletes the objects of entries below keepFrom.
func (l *Log) trimObjects(ctx context.Context, keepFrom uint64) error {
	obs, err := l.bucket(ctx, false)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// List waits for the bucket's metadata up to its last message; one
	// deleted meanwhile (a fenced append's) would keep it waiting.
	listCtx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	infos, err := obs.List(listCtx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, info := range infos {
		if off, ok := objectOffset(info.Name); ok && off < keepFrom {
			if err := l.deleteObject(ctx, info); err != nil {
				return fmt.Errorf("delete object %s: %w", info.Name, err)
			}
		}
	}
	return nil
}
