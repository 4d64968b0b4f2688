// Package s3 is ferry's snapshot store on S3-compatible object storage
// (--store s3://BUCKET/PREFIX), through aws-sdk-go-v2: its credential chain
// and its S3 client.
//
// A snapshot streams into a multipart upload (no temporary file, at most
// Config.Concurrency parts in memory, one filling while the others upload)
// with a full-object CRC-32C that the server checks on completion and keeps
// with the object. Completion is conditional (If-None-Match: *), so objects
// are written once. The manifest is written after the object, with
// If-Match on the ETag of the manifest it read (If-None-Match: * for the
// first), so that racing writers move it only forward. A server that ignores
// these headers still gets objects before manifests and a manifest that a
// single writer moves only forward.
//
// S3 errors are translated here: NoSuchKey becomes snapshot.ErrNotFound; a
// missing bucket, a refused signature or an unreachable server stay errors.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ferrydb/ferry/snapshot"
)

// Metadata kept with each object (x-amz-meta-*).
const (
	metaDataset    = "ferry-dataset"
	metaOffset     = "ferry-offset"
	metaGeneration = "ferry-generation"
	metaCreated    = "ferry-created"
	// metaWriter is a random token per Put: when the outcome of the
	// request that completes an object is unclear (a lost response, a
	// retry that found the object), it tells whether the object is this
	// Put's or another writer's.
	metaWriter = "ferry-writer"
)

const (
	// maxManifest bounds the manifest read back.
	maxManifest = 1 << 20
	// maxManifestRetries bounds the rounds of a manifest update that other
	// writers keep beating.
	maxManifestRetries = 100
	// listConcurrency bounds the HEAD requests of one List.
	listConcurrency = 8
	// abortTimeout bounds aborting a failed upload after ctx ended.
	abortTimeout = 30 * time.Second
)

// Store is a snapshot store in an S3 bucket. Its methods are safe for
// concurrent use.
type Store struct {
	cfg    Config
	client *s3.Client
}

var _ snapshot.Store = (*Store)(nil)

// New returns the store cfg describes. It loads the AWS configuration
// (credentials, region, endpoint) but does not contact the server:
// credentials and access are checked by the first request.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Checksums are ferry's own (CRC-32C, given explicitly): the SDK
		// adds none of its own, and does not warn about responses
		// without one.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{cfg: cfg, client: client}, nil
}

// key is the bucket key of a store-relative key.
func (s *Store) key(rel string) string {
	if s.cfg.Prefix == "" {
		return rel
	}
	return s.cfg.Prefix + "/" + rel
}

// loc names a store-relative key in errors: s3://bucket/prefix/key.
func (s *Store) loc(rel string) string { return "s3://" + s.cfg.Bucket + "/" + s.key(rel) }

// Put implements snapshot.Store.
func (s *Store) Put(ctx context.Context, info snapshot.Info, r io.Reader) (snapshot.Info, error) {
	info, err := snapshot.PrepareInfo(info)
	if err != nil {
		return snapshot.Info{}, err
	}
	key := s.key(info.Key)

	// Refuse early rather than upload a whole snapshot for nothing; the
	// conditional completion is what makes objects write-once.
	_, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	switch {
	case err == nil:
		return snapshot.Info{}, fmt.Errorf("%w: %s", snapshot.ErrExists, s.loc(info.Key))
	case !isNotFound(err):
		return snapshot.Info{}, fmt.Errorf("s3: put snapshot %d: %w", info.Offset, err)
	}

	meta := map[string]string{
		metaDataset:    info.Dataset,
		metaOffset:     strconv.FormatUint(info.Offset, 10),
		metaGeneration: info.Generation,
		metaCreated:    info.Created.Format(time.RFC3339Nano),
		metaWriter:     rand.Text(),
	}
	r = ctxReader{ctx, r}
	first := make([]byte, s.cfg.PartSize)
	n, rerr := io.ReadFull(r, first)
	switch {
	case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
		info.Size, info.Checksum, err = s.putSmall(ctx, key, meta, first[:n])
	case rerr != nil:
		err = rerr
	default:
		info.Size, info.Checksum, err = s.putMultipart(ctx, key, meta, first, r)
	}
	if errors.Is(err, snapshot.ErrExists) {
		return snapshot.Info{}, fmt.Errorf("%w: %s", snapshot.ErrExists, s.loc(info.Key))
	}
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("s3: upload snapshot %d to %s: %w", info.Offset, s.loc(info.Key), err)
	}
	if err := s.advance(ctx, info); err != nil {
		return snapshot.Info{}, err
	}
	return info, nil
}

// putSmall stores b, all of a snapshot smaller than a part, in one request.
func (s *Store) putSmall(ctx context.Context, key string, meta map[string]string, b []byte) (int64, string, error) {
	sum := crc32c(b)
	in := &s3.PutObjectInput{
		Bucket:         &s.cfg.Bucket,
		Key:            &key,
		Body:           bytes.NewReader(b),
		ContentLength:  aws.Int64(int64(len(b))),
		ContentType:    aws.String("application/zstd"),
		Metadata:       meta,
		ChecksumCRC32C: aws.String(b64(sum)),
		IfNoneMatch:    aws.String("*"),
	}
	in.ServerSideEncryption, in.SSEKMSKeyId = s.sse()
	if _, err := s.client.PutObject(ctx, in); err != nil {
		if err := s.whose(ctx, key, meta, err); err != nil {
			return 0, "", err
		}
	}
	return int64(len(b)), snapshot.FormatChecksum(sum), nil
}

// abortChecks is how many times abort looks for the upload again after
// aborting it, abortCheckWait apart.
const (
	abortChecks    = 5
	abortCheckWait = 50 * time.Millisecond
)

// abort aborts a multipart upload, and again while the store still lists
// it: a part upload the server was still receiving when the client gave it
// up can bring the upload back after the abort (S3's documentation says to
// abort again), which leaves an incomplete upload behind.
func (s *Store) abort(ctx context.Context, key string, id *string) error {
	for check := 0; ; check++ {
		if _, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: &s.cfg.Bucket, Key: &key, UploadId: id,
		}); err != nil && check == 0 {
			return err
		}
		if check == abortChecks {
			return nil
		}
		select {
		case <-time.After(abortCheckWait):
		case <-ctx.Done():
			return ctx.Err()
		}
		out, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &s.cfg.Bucket, Prefix: &key})
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(out.Uploads, func(u types.MultipartUpload) bool { return aws.ToString(u.UploadId) == aws.ToString(id) }) {
			return nil
		}
	}
}

// putMultipart uploads first (a full part) and the rest of r as a
// multipart upload, aborted if anything fails.
func (s *Store) putMultipart(ctx context.Context, key string, meta map[string]string, first []byte, r io.Reader) (size int64, checksum string, err error) {
	create := &s3.CreateMultipartUploadInput{
		Bucket:            &s.cfg.Bucket,
		Key:               &key,
		ContentType:       aws.String("application/zstd"),
		Metadata:          meta,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		ChecksumType:      types.ChecksumTypeFullObject,
	}
	create.ServerSideEncryption, create.SSEKMSKeyId = s.sse()
	up, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return 0, "", err
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer cancel()
			if aerr := s.abort(actx, key, up.UploadId); aerr != nil {
				err = fmt.Errorf("%w (and aborting the upload: %v)", err, aerr)
			}
		}
	}()

	// The reading goroutine (this one) fills one buffer while the others
	// upload; a buffer comes back to free when its part is stored.
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		upErr   error
		parts   []types.CompletedPart
		free    = make(chan []byte, s.cfg.Concurrency)
		buffers = 1
		whole   = snapshot.NewHash()
	)
	fail := func(err error) {
		mu.Lock()
		if upErr == nil {
			upErr = err
		}
		mu.Unlock()
		cancel()
	}
	buf, n := first, len(first)
	var rerr error
	for num := int32(1); ; num++ {
		whole.Write(buf[:n])
		size += int64(n)
		part := buf[:n]
		wg.Go(func() {
			cp, err := s.uploadPart(uctx, key, up.UploadId, num, part)
			if err != nil {
				fail(fmt.Errorf("part %d: %w", num, err))
			} else {
				mu.Lock()
				parts = append(parts, cp)
				mu.Unlock()
			}
			free <- part[:cap(part)]
		})
		if rerr != nil { // that was the last part
			break
		}
		if num == maxParts {
			fail(fmt.Errorf("snapshot larger than %d parts of %d bytes", maxParts, s.cfg.PartSize))
			break
		}
		if buffers < s.cfg.Concurrency {
			buf = make([]byte, s.cfg.PartSize)
			buffers++
		} else {
			select {
			case buf = <-free:
			case <-uctx.Done():
			}
		}
		if uctx.Err() != nil {
			break
		}
		n, rerr = io.ReadFull(r, buf)
		if rerr == io.EOF {
			break // the previous part was the last
		}
		if rerr != nil && rerr != io.ErrUnexpectedEOF {
			fail(rerr)
			break
		}
	}
	wg.Wait()
	if upErr != nil {
		return 0, "", upErr
	}
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	sum := whole.Sum32()
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.cfg.Bucket,
		Key:             &key,
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		ChecksumCRC32C:  aws.String(b64(sum)),
		ChecksumType:    types.ChecksumTypeFullObject,
		IfNoneMatch:     aws.String("*"),
	})
	if err != nil {
		if err = s.whose(ctx, key, meta, err); err != nil {
			return 0, "", err
		}
	}
	return size, snapshot.FormatChecksum(sum), nil
}

// whose settles the outcome of the request that completes an object, which
// failed with err: a lost response, a retry refused because the first
// attempt had stored the object, or a conditional write that lost (which
// some servers answer before reading the body, resetting the connection).
// It returns nil if the object is this Put's (meta's writer token),
// snapshot.ErrExists if it is another writer's, and err if there is none.
func (s *Store) whose(ctx context.Context, key string, meta map[string]string, err error) error {
	h, herr := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	switch {
	case herr != nil:
		return err
	case h.Metadata[metaWriter] == meta[metaWriter]:
		return nil
	default:
		return snapshot.ErrExists
	}
}

func (s *Store) uploadPart(ctx context.Context, key string, uploadID *string, num int32, b []byte) (types.CompletedPart, error) {
	sum := aws.String(b64(crc32c(b)))
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:         &s.cfg.Bucket,
		Key:            &key,
		UploadId:       uploadID,
		PartNumber:     aws.Int32(num),
		Body:           bytes.NewReader(b),
		ContentLength:  aws.Int64(int64(len(b))),
		ChecksumCRC32C: sum,
	})
	if err != nil {
		return types.CompletedPart{}, err
	}
	return types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumCRC32C: sum}, nil
}

// advance makes info the manifest's snapshot if it is newer than the
// manifest's: a compare-and-swap on the manifest's ETag, retried while
// other writers win.
func (s *Store) advance(ctx context.Context, info snapshot.Info) error {
	rel := snapshot.ManifestKey(info.Dataset)
	key := s.key(rel)
	body := snapshot.MarshalManifest(info)
	for attempt := 0; attempt < maxManifestRetries; attempt++ {
		cur, etag, err := s.readManifest(ctx, info.Dataset)
		found := err == nil
		switch {
		case found && cur.Offset >= info.Offset:
			return nil
		case err != nil && !errors.Is(err, snapshot.ErrNotFound):
			return fmt.Errorf("s3: put snapshot %d: %w", info.Offset, err)
		}
		in := &s3.PutObjectInput{
			Bucket:        &s.cfg.Bucket,
			Key:           &key,
			Body:          bytes.NewReader(body),
			ContentLength: aws.Int64(int64(len(body))),
			ContentType:   aws.String("application/json"),
			CacheControl:  aws.String("no-cache"),
		}
		if found {
			in.IfMatch = aws.String(etag)
		} else {
			in.IfNoneMatch = aws.String("*")
		}
		in.ServerSideEncryption, in.SSEKMSKeyId = s.sse()
		_, err = s.client.PutObject(ctx, in)
		if err == nil {
			return nil
		}
		// Another writer changed (or, for If-Match, deleted) the
		// manifest since we read it: read it again.
		if !isPreconditionFailed(err) && !isNotFound(err) {
			return fmt.Errorf("s3: write manifest %s at %d: %w", s.loc(rel), info.Offset, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1+attempt%8) * time.Millisecond):
		}
	}
	return fmt.Errorf("s3: write manifest %s at %d: other writers kept changing it", s.loc(rel), info.Offset)
}

// readManifest returns dataset's manifest and its ETag.
func (s *Store) readManifest(ctx context.Context, dataset string) (snapshot.Info, string, error) {
	rel := snapshot.ManifestKey(dataset)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.key(rel))})
	if isNotFound(err) {
		return snapshot.Info{}, "", fmt.Errorf("%w: manifest %s", snapshot.ErrNotFound, s.loc(rel))
	}
	if err != nil {
		return snapshot.Info{}, "", fmt.Errorf("s3: read manifest %s: %w", s.loc(rel), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, maxManifest+1))
	if err != nil {
		return snapshot.Info{}, "", fmt.Errorf("s3: read manifest %s: %w", s.loc(rel), err)
	}
	if len(b) > maxManifest {
		return snapshot.Info{}, "", fmt.Errorf("s3: manifest %s: larger than %d bytes", s.loc(rel), maxManifest)
	}
	info, err := snapshot.UnmarshalManifest(dataset, s.loc(rel), b)
	if err != nil {
		return snapshot.Info{}, "", err
	}
	return info, aws.ToString(out.ETag), nil
}

// Newest implements snapshot.Store.
func (s *Store) Newest(ctx context.Context, dataset string) (snapshot.Info, error) {
	if err := snapshot.ValidateDataset(dataset); err != nil {
		return snapshot.Info{}, err
	}
	info, _, err := s.readManifest(ctx, dataset)
	return info, err
}

// List implements snapshot.Store.
func (s *Store) List(ctx context.Context, dataset string) ([]snapshot.Info, error) {
	if err := snapshot.ValidateDataset(dataset); err != nil {
		return nil, err
	}
	var out []snapshot.Info
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.cfg.Bucket,
		Prefix: aws.String(s.key(snapshot.SnapshotsPrefix(dataset))),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3: list snapshots in %s: %w", s.loc(snapshot.SnapshotsPrefix(dataset)), err)
		}
		for _, o := range page.Contents {
			rel := aws.ToString(o.Key)[len(s.key("")):]
			if info, ok := snapshot.ParseObjectKey(dataset, rel); ok {
				info.Size = aws.ToInt64(o.Size)
				info.Created = aws.ToTime(o.LastModified).UTC()
				out = append(out, info)
			}
		}
	}
	// The checksum and the creation time are in each object's headers.
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, listConcurrency)
		errs = make([]error, len(out))
		gone = make([]bool, len(out))
	)
	for i := range out {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			h, err := s.head(ctx, out[i].Key)
			switch {
			case isNotFound(err):
				gone[i] = true // deleted since the listing
			case err != nil:
				errs[i] = err
			default:
				out[i] = h
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	kept := out[:0]
	for i, info := range out {
		if !gone[i] {
			kept = append(kept, info)
		}
	}
	return kept, nil
}

// head returns the Info the headers of object rel give.
func (s *Store) head(ctx context.Context, rel string) (snapshot.Info, error) {
	info, _ := snapshot.ParseObjectKey(datasetOf(rel), rel)
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       &s.cfg.Bucket,
		Key:          aws.String(s.key(rel)),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		if isNotFound(err) {
			return snapshot.Info{}, err
		}
		return snapshot.Info{}, fmt.Errorf("s3: read %s: %w", s.loc(rel), err)
	}
	info.Size = aws.ToInt64(out.ContentLength)
	info.Created = aws.ToTime(out.LastModified).UTC()
	if t, err := time.Parse(time.RFC3339Nano, out.Metadata[metaCreated]); err == nil {
		info.Created = t.UTC()
	}
	info.Checksum = storedChecksum(out.ChecksumCRC32C, out.ChecksumType)
	return info, nil
}

// datasetOf is the dataset of a store-relative object key.
func datasetOf(rel string) string {
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' {
			return rel[:i]
		}
	}
	return rel
}

// Open implements snapshot.Store.
func (s *Store) Open(ctx context.Context, info snapshot.Info) (io.ReadCloser, error) {
	rel, err := snapshot.ObjectKey(info)
	if err != nil {
		return nil, err
	}
	want, size := info.Checksum, info.Size
	if want == "" {
		// Only the names: the checksum is the one stored with the object.
		// (Objects are written once, so it is still this object's when
		// the GET comes.)
		h, err := s.head(ctx, rel)
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: snapshot %s", snapshot.ErrNotFound, s.loc(rel))
		}
		if err != nil {
			return nil, err
		}
		if h.Checksum == "" {
			return nil, fmt.Errorf("s3: open snapshot %s: no checksum stored with it (does the server keep full-object CRC-32C checksums?)", s.loc(rel))
		}
		want, size = h.Checksum, h.Size
	}
	// Without x-amz-checksum-mode the SDK does not check the bytes itself:
	// VerifyReader does, so that a mismatch is always ErrChecksum.
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.key(rel))})
	if isNotFound(err) {
		return nil, fmt.Errorf("%w: snapshot %s", snapshot.ErrNotFound, s.loc(rel))
	}
	if err != nil {
		return nil, fmt.Errorf("s3: open snapshot %s: %w", s.loc(rel), err)
	}
	if out.ContentLength != nil && *out.ContentLength != size {
		out.Body.Close()
		return nil, fmt.Errorf("%w: %s: %d bytes, expected %d", snapshot.ErrChecksum, s.loc(rel), *out.ContentLength, size)
	}
	return snapshot.VerifyReader(out.Body, s.loc(rel), size, want)
}

// Delete implements snapshot.Store.
func (s *Store) Delete(ctx context.Context, info snapshot.Info) error {
	rel, err := snapshot.ObjectKey(info)
	if err != nil {
		return err
	}
	cur, _, err := s.readManifest(ctx, info.Dataset)
	switch {
	case err == nil && info.Offset >= cur.Offset:
		return fmt.Errorf("%w: %s is at or above the manifest's offset %d", snapshot.ErrNewest, s.loc(rel), cur.Offset)
	case err != nil && !errors.Is(err, snapshot.ErrNotFound):
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.key(rel))}); err != nil {
		return fmt.Errorf("s3: delete snapshot %s: %w", s.loc(rel), err)
	}
	return nil
}

func (s *Store) sse() (types.ServerSideEncryption, *string) {
	var kms *string
	if s.cfg.SSEKMSKeyID != "" {
		kms = aws.String(s.cfg.SSEKMSKeyID)
	}
	return types.ServerSideEncryption(s.cfg.SSE), kms
}

// storedChecksum turns the full-object CRC-32C a server reports into an
// Info.Checksum, or "" if it reports none (or only a checksum of the parts'
// checksums).
func storedChecksum(crc *string, typ types.ChecksumType) string {
	if crc == nil || typ == types.ChecksumTypeComposite {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(*crc)
	if err != nil || len(b) != 4 {
		return ""
	}
	return snapshot.FormatChecksum(binary.BigEndian.Uint32(b))
}

func crc32c(b []byte) uint32 {
	h := snapshot.NewHash()
	h.Write(b)
	return h.Sum32()
}

// b64 is a CRC-32C as S3 headers carry it.
func b64(sum uint32) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
}

// isNotFound reports whether S3 said the key does not exist (never a
// missing bucket).
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")
}

// isPreconditionFailed reports whether a conditional write lost: the
// object existed (If-None-Match), or changed (If-Match), or another
// conditional write to it was in progress.
func isPreconditionFailed(err error) bool {
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict") {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusPreconditionFailed || re.HTTPStatusCode() == http.StatusConflict)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
