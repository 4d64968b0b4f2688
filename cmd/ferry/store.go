package main

import (
	"context"
	"flag"
	"path/filepath"
	"time"

	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/stores"
)

// storeFlags are the flags that say where snapshots are kept.
type storeFlags struct {
	url       string
	endpoint  string
	region    string
	pathStyle string
	sse       string
	kmsKey    string
	partSize  int64
}

func addStoreFlags(fs *flag.FlagSet, def string) *storeFlags {
	s := &storeFlags{}
	fs.StringVar(&s.url, "store", def, "where snapshots are kept: s3://BUCKET/PREFIX or file:///DIR (empty: no snapshots)")
	fs.StringVar(&s.endpoint, "s3-endpoint", "", "S3 endpoint URL for S3-compatible servers (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)")
	fs.StringVar(&s.region, "s3-region", "", "S3 region (default: AWS_REGION or the profile's, else us-east-1)")
	fs.StringVar(&s.pathStyle, "s3-path-style", "auto", "path-style bucket addressing: yes, no, or auto (yes when an endpoint is set)")
	fs.StringVar(&s.sse, "s3-sse", "", "server-side encryption: AES256 or aws:kms (empty: the bucket's default)")
	fs.StringVar(&s.kmsKey, "s3-sse-kms-key-id", "", "KMS key id for --s3-sse aws:kms")
	fs.Int64Var(&s.partSize, "s3-part-size", 0, "multipart upload part size in bytes (default 8 MiB, at least 5 MiB; a snapshot holds 2 parts in memory)")
	return s
}

// open returns the store the flags name, or nil when --store is empty.
// A file:// directory must exist, except that mkdir creates it (ferry dev's
// default under --data-dir).
func (s *storeFlags) open(ctx context.Context, mkdir bool) (snapshot.Store, error) {
	if s.url == "" {
		return nil, nil
	}
	o := stores.Options{Endpoint: s.endpoint, Region: s.region, SSE: s.sse, SSEKMSKeyID: s.kmsKey, PartSize: s.partSize, Mkdir: mkdir}
	if s.pathStyle != "auto" {
		on, err := yesNo("s3-path-style", s.pathStyle)
		if err != nil {
			return nil, err
		}
		o.PathStyle = &on
	}
	return stores.Open(ctx, s.url, o)
}

// fileStoreURL is the file:// URL of dir, made absolute.
func fileStoreURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return snapshot.Location{Scheme: "file", Dir: abs}.String(), nil
}

// scheduleFlags are a node's snapshot schedule and retention.
type scheduleFlags struct {
	interval    time.Duration
	afterWrites int64
	keep        int
}

func addScheduleFlags(fs *flag.FlagSet) *scheduleFlags {
	s := &scheduleFlags{}
	fs.DurationVar(&s.interval, "snapshot-interval", time.Hour, "take a snapshot when this long passed since the last one and anything changed (0: not by time)")
	fs.Int64Var(&s.afterWrites, "snapshot-after-writes", 100000, "take a snapshot after this many changes (0: not by count)")
	fs.IntVar(&s.keep, "snapshot-keep", 3, "snapshots to keep; older ones are deleted and the log is trimmed below the oldest kept (0: keep all, never trim)")
	return s
}

// snapshotFlags are the master's snapshot schedule and retention, and
// its start and shutdown.
type snapshotFlags struct {
	*scheduleFlags
	newDataset bool
	noShutdown bool
}

func addSnapshotFlags(fs *flag.FlagSet) *snapshotFlags {
	s := &snapshotFlags{scheduleFlags: addScheduleFlags(fs)}
	fs.BoolVar(&s.newDataset, "new-dataset", false, "allow starting empty when there is no snapshot (or no --store) and the log has no entry (never when either cannot be read)")
	fs.BoolVar(&s.noShutdown, "no-shutdown-snapshot", false, "skip the snapshot a clean shutdown takes")
	return s
}

// apply copies the flags into a master's configuration.
func (s *snapshotFlags) apply(cfg *master.Config, st snapshot.Store) {
	cfg.Store = st
	cfg.SnapshotInterval = s.interval
	cfg.SnapshotAfterWrites = s.afterWrites
	cfg.SnapshotKeep = s.keep
	cfg.NewDataset = s.newDataset
	cfg.NoShutdownSnapshot = s.noShutdown
}
