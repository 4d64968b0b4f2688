package s3_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/s3"
	"github.com/ferrydb/ferry/snapshot/storetest"
)

// server is one versitygw with its credentials, and minio-go, the
// suite's independent S3 client, on it.
type server struct {
	endpoint, access, secret, bucket string
	raw                              *minio.Client
}

func newServer(t testing.TB) *server {
	t.Helper()
	endpoint, access, secret, bucket := redistest.Versitygw(t)
	u, _ := url.Parse(endpoint)
	raw, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(access, secret, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &server{endpoint, access, secret, bucket, raw}
}

func (srv *server) config(prefix string) s3.Config {
	return s3.Config{
		Bucket:          srv.bucket,
		Prefix:          prefix,
		Endpoint:        srv.endpoint,
		PathStyle:       true,
		AccessKeyID:     srv.access,
		SecretAccessKey: srv.secret,
	}
}

var prefixes atomic.Int64

func (srv *server) newPrefix() string { return fmt.Sprintf("t%d/ferry", prefixes.Add(1)) }

// rawStore adds storetest.Raw to a Store: minio-go requests on its bucket
// and prefix.
type rawStore struct {
	*s3.Store
	srv    *server
	prefix string
}

func (r rawStore) key(rel string) string {
	if r.prefix == "" {
		return rel
	}
	return r.prefix + "/" + rel
}

func (r rawStore) ReadRaw(t testing.TB, key string) []byte {
	obj, err := r.srv.raw.GetObject(context.Background(), r.srv.bucket, r.key(key), minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r rawStore) WriteRaw(t testing.TB, key string, b []byte) {
	_, err := r.srv.raw.PutObject(context.Background(), r.srv.bucket, r.key(key), bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func (r rawStore) RemoveRaw(t testing.TB, key string) {
	if err := r.srv.raw.RemoveObject(context.Background(), r.srv.bucket, r.key(key), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (r rawStore) Leftovers(t testing.TB, dataset string) []string {
	var out []string
	for u := range r.srv.raw.ListIncompleteUploads(context.Background(), r.srv.bucket, r.key(dataset+"/"), true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		out = append(out, "incomplete upload of "+u.Key)
	}
	return out
}

func TestConformance(t *testing.T) {
	srv := newServer(t)
	storetest.Run(t, func(t *testing.T) snapshot.Store {
		prefix := srv.newPrefix()
		cfg := srv.config(prefix)
		cfg.PartSize = s3.MinPartSize // several parts for the larger snapshots
		s, err := s3.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return rawStore{s, srv, prefix}
	})
}

func TestConformanceNoPrefix(t *testing.T) {
	srv := newServer(t)
	storetest.Run(t, func(t *testing.T) snapshot.Store {
		// A bucket per test: objects at the bucket's root.
		bucket := fmt.Sprintf("ferry-np-%d", prefixes.Add(1))
		if err := srv.raw.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
		s2 := *srv
		s2.bucket = bucket
		s, err := s3.New(context.Background(), s2.config(""))
		if err != nil {
			t.Fatal(err)
		}
		return rawStore{s, &s2, ""}
	})
}

func TestWrongCredentialsAreNotEmpty(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	good, err := s3.New(ctx, srv.config("p"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := good.Put(ctx, snapshot.Info{Dataset: "shop", Offset: 1, Generation: "g"}, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}

	bad := srv.config("p")
	bad.SecretAccessKey = "wrong"
	noBucket := srv.config("p")
	noBucket.Bucket = "no-such-bucket"
	down := srv.config("p")
	down.Endpoint = "http://127.0.0.1:1"
	for name, cfg := range map[string]s3.Config{"wrong secret": bad, "missing bucket": noBucket, "unreachable": down} {
		s, err := s3.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Newest(ctx, "shop")
		notEmpty(t, name+": newest", err)
		_, err = s.Newest(ctx, "empty")
		notEmpty(t, name+": newest of a dataset without snapshots", err)
		_, err = s.List(ctx, "shop")
		notEmpty(t, name+": list", err)
		_, err = s.Open(ctx, info)
		notEmpty(t, name+": open", err)
		_, err = s.Put(ctx, snapshot.Info{Dataset: "shop", Offset: 2, Generation: "g"}, strings.NewReader("y"))
		notEmpty(t, name+": put", err)
		notEmpty(t, name+": delete", s.Delete(ctx, snapshot.Info{Dataset: "shop", Offset: 0, Generation: "g"}))
	}
}

func notEmpty(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("%s: %v, want an error other than not found", what, err)
	}
}

// TestAWSChain takes the endpoint and the credentials from the environment,
// as a container or a Lambda function would.
func TestAWSChain(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.secret)
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := context.Background()
	s, err := s3.New(ctx, s3.Config{Bucket: srv.bucket, Prefix: "env", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Put(ctx, snapshot.Info{Dataset: "shop", Offset: 1, Generation: "g"}, strings.NewReader("from the environment"))
	if err != nil {
		t.Fatal(err)
	}
	newest, err := s.Newest(ctx, "shop")
	if err != nil || newest.Checksum != info.Checksum {
		t.Fatalf("newest: %+v, %v", newest, err)
	}
}

// TestObjectsAsStored checks what another S3 client sees: the object's
// bytes, its metadata, and the full-object CRC-32C the server verified.
func TestObjectsAsStored(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	cfg := srv.config("x/y")
	cfg.PartSize = s3.MinPartSize
	cfg.SSE = "AES256"
	s, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{10, 12 << 20} {
		body := bytes.Repeat([]byte("ferry!"), size/6)
		info, err := s.Put(ctx, snapshot.Info{Dataset: "shop", Offset: uint64(size), Generation: "g"}, io.MultiReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		st, err := srv.raw.StatObject(ctx, srv.bucket, "x/y/"+info.Key, minio.StatObjectOptions{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		if st.Size != int64(len(body)) || st.UserMetadata["Ferry-Offset"] != fmt.Sprint(size) || st.UserMetadata["Ferry-Generation"] != "g" {
			t.Fatalf("stat %s: size %d, metadata %v", info.Key, st.Size, st.UserMetadata)
		}
		if got := "crc32c:" + crcHex(t, st.ChecksumCRC32C); got != info.Checksum {
			t.Fatalf("%s: server's CRC-32C %s, Info's %s", info.Key, got, info.Checksum)
		}
	}
	m := rawStore{s, srv, "x/y"}.ReadRaw(t, "shop/manifest.json")
	if !bytes.Contains(m, []byte(`"offset": 12582912`)) {
		t.Fatalf("manifest: %s", m)
	}
}

func crcHex(t *testing.T, b64 string) string {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != 4 {
		t.Fatalf("CRC-32C %q: %v", b64, err)
	}
	return fmt.Sprintf("%02x%02x%02x%02x", b[0], b[1], b[2], b[3])
}

// BenchmarkUpload streams 64 MiB of unknown length into versitygw: with
// this package (aws-sdk-go-v2) at 1 and 2 parts in memory, and with
// minio-go's PutObject (size -1, 16 MiB parts) for comparison; "zstd" runs
// feed them from a zstd encoder, as a snapshot writer does. B/op is the
// memory each upload allocates.
func BenchmarkUpload(b *testing.B) {
	srv := newServer(b)
	// Like an RDB of short strings: keys, counters and random bytes, which
	// zstd's default level takes to about a third.
	payload := make([]byte, 0, 64<<20+200)
	rng := rand.New(rand.NewPCG(1, 2))
	for len(payload) < 64<<20 {
		payload = fmt.Appendf(payload, "\x00user:%08d\x0csession:%d:", rng.IntN(1e8), rng.IntN(1000))
		for range 24 {
			payload = append(payload, "abcdefghijklmnop"[rng.IntN(16)])
		}
	}
	payload = payload[:64<<20]
	sources := map[string]func() io.Reader{
		"plain": func() io.Reader { return io.MultiReader(bytes.NewReader(payload)) },
		"zstd": func() io.Reader {
			pr, pw := io.Pipe()
			go func() {
				enc, _ := zstd.NewWriter(pw)
				_, err := enc.Write(payload)
				if err == nil {
					err = enc.Close()
				}
				pw.CloseWithError(err)
			}()
			return pr
		},
	}
	ctx := context.Background()
	for srcName, src := range sources {
		for _, conc := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/ferry-s3-concurrency-%d", srcName, conc), func(b *testing.B) {
				cfg := srv.config(srv.newPrefix())
				cfg.Concurrency = conc
				s, err := s3.New(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, err := s.Put(ctx, snapshot.Info{Dataset: "bench", Offset: uint64(i), Generation: "g"}, src()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(srcName+"/minio-go", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_, err := srv.raw.PutObject(ctx, srv.bucket, fmt.Sprintf("minio/%d", i), src(), -1, minio.PutObjectOptions{PartSize: 16 << 20})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
