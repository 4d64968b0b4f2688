package snapshot_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ferrydb/ferry/snapshot"
)

func TestParseURL(t *testing.T) {
	good := map[string]snapshot.Location{
		"s3://bucket":                 {Scheme: "s3", Bucket: "bucket"},
		"s3://bucket/":                {Scheme: "s3", Bucket: "bucket"},
		"s3://my.bucket-1/a/b/":       {Scheme: "s3", Bucket: "my.bucket-1", Prefix: "a/b"},
		"file:///var/lib/ferry":       {Scheme: "file", Dir: "/var/lib/ferry"},
		"file:///var/lib/ferry/":      {Scheme: "file", Dir: "/var/lib/ferry"},
		"file://localhost/srv/snaps":  {Scheme: "file", Dir: "/srv/snaps"},
		"file:///dir%20with%20spaces": {Scheme: "file", Dir: "/dir with spaces"},
	}
	for in, want := range good {
		got, err := snapshot.ParseURL(in)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		if again, err := snapshot.ParseURL(got.String()); err != nil || again != got {
			t.Errorf("ParseURL(%q.String() = %q) = %+v, %v", in, got.String(), again, err)
		}
	}
	for _, in := range []string{
		"", "bucket/prefix", "/var/lib/ferry", "gs://bucket", "s3://", "s3://UPPER", "s3://ab",
		"s3://bucket/a//b", "s3://bucket/../x", "s3://bucket/p?region=x", "s3://key:secret@bucket",
		"file://host/dir", "file:relative", "file:///", "s3://bucket/p#frag",
	} {
		if got, err := snapshot.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", in, got)
		}
	}
}

func TestObjectKeys(t *testing.T) {
	info := snapshot.Info{Dataset: "shop", Offset: 42, Generation: "gen-1_x"}
	key, err := snapshot.ObjectKey(info)
	if err != nil || key != "shop/snapshots/00000000000000000042-gen-1_x.rdb.zst" {
		t.Fatalf("ObjectKey = %q, %v", key, err)
	}
	got, ok := snapshot.ParseObjectKey("shop", key)
	if !ok || got.Offset != 42 || got.Generation != "gen-1_x" || got.Dataset != "shop" || got.Key != key {
		t.Fatalf("ParseObjectKey(%q) = %+v, %v", key, got, ok)
	}
	for _, k := range []string{
		"shop/snapshots/42-g.rdb.zst",                        // not padded
		"shop/snapshots/00000000000000000042-g.rdb",          // suffix
		"shop/snapshots/00000000000000000042-.rdb.zst",       // no generation
		"shop/snapshots/0000000000000000004x-g.rdb.zst",      // not a number
		"shop/snapshots/99999999999999999999-g.rdb.zst",      // overflows
		"shop/snapshots/00000000000000000042-a/b.rdb.zst",    // nested
		"shop/snapshots/00000000000000000042-g.rdb.zst.json", // fs's record
		"other/snapshots/00000000000000000042-g.rdb.zst",     // other dataset
		"shop/manifest.json",
	} {
		if got, ok := snapshot.ParseObjectKey("shop", k); ok {
			t.Errorf("ParseObjectKey(%q) = %+v, want not a snapshot", k, got)
		}
	}
	for _, bad := range []snapshot.Info{
		{Dataset: "shop"}, {Generation: "g"}, {Dataset: "a.b", Generation: "g"},
		{Dataset: "shop", Generation: strings.Repeat("g", 65)},
	} {
		if _, err := snapshot.ObjectKey(bad); err == nil {
			t.Errorf("ObjectKey(%+v): no error", bad)
		}
	}
}

func TestManifest(t *testing.T) {
	info := snapshot.Info{Dataset: "shop", Offset: 7, Generation: "g", Size: 3,
		Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Key: "shop/snapshots/00000000000000000007-g.rdb.zst",
		Checksum: "crc32c:0000abcd"}
	b := snapshot.MarshalManifest(info)
	got, err := snapshot.UnmarshalManifest("shop", "m", b)
	if err != nil || got != info {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := snapshot.UnmarshalManifest("other", "m", b); err == nil {
		t.Fatal("manifest of another dataset accepted")
	}
	for _, edit := range [][2]string{
		{`"version": 1`, `"version": 2`},
		{`"key": "shop/snapshots/00000000000000000007-g.rdb.zst"`, `"key": "shop/snapshots/00000000000000000008-g.rdb.zst"`},
		{`"checksum": "crc32c:0000abcd"`, `"checksum": ""`},
		{`"size": 3`, `"size": -3`},
		{`"generation": "g"`, `"generation": "../g"`},
		{`"size": 3`, `"size": 3, "extra": 1`},
	} {
		bad := strings.Replace(string(b), edit[0], edit[1], 1)
		if bad == string(b) {
			t.Fatalf("edit %q did not apply", edit[0])
		}
		if _, err := snapshot.UnmarshalManifest("shop", "m", []byte(bad)); err == nil || !strings.Contains(err.Error(), "manifest m") {
			t.Errorf("manifest with %s: %v, want an error naming it", edit[1], err)
		}
	}
}

func TestVerifyReader(t *testing.T) {
	body := []byte("the snapshot's bytes")
	h := snapshot.NewHash()
	h.Write(body)
	sum := snapshot.FormatChecksum(h.Sum32())
	read := func(b []byte, size int64, checksum string) error {
		rc, err := snapshot.VerifyReader(io.NopCloser(iotest.OneByteReader(bytes.NewReader(b))), "s3://b/obj", size, checksum)
		if err != nil {
			return err
		}
		got, err := io.ReadAll(rc)
		if err == nil && !bytes.Equal(got, b) {
			t.Fatalf("read %q, want %q", got, b)
		}
		return err
	}
	if err := read(body, int64(len(body)), sum); err != nil {
		t.Fatal(err)
	}
	if err := read(body, -1, sum); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(body)
	flipped[3] ^= 1
	for name, err := range map[string]error{
		"flipped":   read(flipped, int64(len(body)), sum),
		"truncated": read(body[:5], int64(len(body)), sum),
		"longer":    read(append(bytes.Clone(body), 'x'), int64(len(body)), sum),
		"size only": read(body, int64(len(body))-1, sum),
	} {
		if !errors.Is(err, snapshot.ErrChecksum) || !strings.Contains(err.Error(), "s3://b/obj") {
			t.Errorf("%s: %v, want ErrChecksum naming the object", name, err)
		}
	}
	if err := read(body, 1, "md5:abc"); err == nil || errors.Is(err, snapshot.ErrChecksum) {
		t.Errorf("malformed checksum: %v", err)
	}
	// The verdict sticks.
	rc, _ := snapshot.VerifyReader(io.NopCloser(bytes.NewReader(flipped)), "o", -1, sum)
	io.ReadAll(rc)
	if _, err := rc.Read(make([]byte, 1)); !errors.Is(err, snapshot.ErrChecksum) {
		t.Errorf("read after a mismatch: %v", err)
	}
}

func FuzzUnmarshalManifest(f *testing.F) {
	f.Add(snapshot.MarshalManifest(snapshot.Info{Dataset: "shop", Offset: 7, Generation: "g",
		Key: "shop/snapshots/00000000000000000007-g.rdb.zst", Checksum: "crc32c:00000000"}))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := snapshot.UnmarshalManifest("shop", "m", b)
		if err != nil {
			return
		}
		again, err := snapshot.UnmarshalManifest("shop", "m", snapshot.MarshalManifest(info))
		if err != nil || !again.Created.Equal(info.Created) {
			t.Fatalf("accepted %q, but not its re-encoding: %v", b, err)
		}
	})
}
