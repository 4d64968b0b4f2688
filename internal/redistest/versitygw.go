package redistest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// VersitygwBucket is the bucket Versitygw creates.
const VersitygwBucket = "ferry-test"

// Versitygw starts versitygw, an S3-compatible server, on a free loopback
// port with its POSIX backend on a temporary directory, creates
// VersitygwBucket, and stops the server when the test ends. It returns the
// endpoint URL (http://127.0.0.1:PORT) and credentials that work; the
// server checks SigV4 signatures, so other credentials are refused. The
// test fails when CI is set and versitygw is not on PATH, and is skipped,
// saying why, otherwise.
func Versitygw(tb testing.TB) (endpoint, accessKey, secretKey, bucket string) {
	tb.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		const install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
		if os.Getenv("CI") != "" {
			tb.Fatalf("versitygw not found on PATH; make deps installs it from .ci/tools (or %s)", install)
		}
		tb.Skipf("skipping: versitygw not found on PATH (%s)", install)
	}
	accessKey, secretKey, bucket = "ferrytest", "ferrytest-"+randomHex(8), VersitygwBucket
	dir := tb.TempDir()
	// A port found free can be taken before the server binds it: try a
	// few.
	for attempt := 1; ; attempt++ {
		port := FreePort(tb)
		endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		err := startVersitygw(tb, bin, dir, port, accessKey, secretKey, bucket)
		if err == nil {
			return endpoint, accessKey, secretKey, bucket
		}
		if attempt == 3 {
			tb.Fatalf("versitygw: %v", err)
		}
	}
}

func startVersitygw(tb testing.TB, bin, dir string, port int, accessKey, secretKey, bucket string) error {
	out := new(Buffer)
	cmd := exec.Command(bin, "--access", accessKey, "--secret", secretKey,
		"--port", "127.0.0.1:"+strconv.Itoa(port), "--quiet", "posix", dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}

	client, err := minio.New("127.0.0.1:"+strconv.Itoa(port), &minio.Options{
		Creds:        credentials.NewStaticV4(accessKey, secretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		stop()
		return err
	}
	// The server is ready once it creates the bucket.
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"})
		cancel()
		if err == nil {
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("exited at start: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("no bucket after 15s: %v; output: %s", err, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Cleanup(stop)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Buffer is a bytes.Buffer that a process or goroutine may write to while
// a test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
