package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/snapshot/s3"
)

// BenchmarkLambdaColdStart measures the Lambda replica's cold start in the
// runtime interface emulator: the bootstrap binary's size, the init time
// (snapshot download, decompression and load, then the log's tail: the
// function's own "replica ready" log line) and the time from starting the
// emulator to the first answer, for datasets of 10k, 100k and 1M string
// keys in a snapshot on a real S3 server (versitygw, loopback). bench/lambda.sh
// runs it; it is a benchmark, not a test: go test never runs it by default.
func BenchmarkLambdaColdStart(b *testing.B) {
	rie := rieBinary(b)
	bootstrap := buildLambda(b)
	fi, err := os.Stat(bootstrap)
	if err != nil {
		b.Fatal(err)
	}
	for _, keys := range []int{10_000, 100_000, 1_000_000} {
		b.Run(strconv.Itoa(keys), func(b *testing.B) {
			endpoint, access, secret, bucket := redistest.Versitygw(b)
			st, err := s3.New(context.Background(), s3.Config{Bucket: bucket, Prefix: "cold", Endpoint: endpoint, PathStyle: true, AccessKeyID: access, SecretAccessKey: secret})
			if err != nil {
				b.Fatal(err)
			}
			ns := startNATS(b)
			m := startMaster(b, ns.URL(), "cold", func(c *master.Config) { c.Store, c.NewDataset = st, true })
			c, err := dial(m.addr)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < keys; {
				var cmds [][]string
				for j := 0; j < 1000 && i < keys; j, i = j+1, i+1 {
					// 100 bytes, about as compressible as typical values.
					val := fmt.Sprintf("%016x-%s-%016x-%016x", rng.Uint64(), strings.Repeat("user-profile", 5), rng.Uint64(), i)
					cmds = append(cmds, []string{"SET", "key:" + strconv.Itoa(i), val[:100]})
				}
				if _, err := c.pipeline(cmds); err != nil {
					b.Fatal(err)
				}
			}
			c.close()
			snap, err := m.Snapshot(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				l := startRIE(b, rie, bootstrap, []string{
					"FERRY_NATS=" + ns.URL(), "FERRY_DATASET=cold", "FERRY_STORE=s3://" + bucket + "/cold",
					"FERRY_S3_ENDPOINT=" + endpoint, "AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret,
					"AWS_REGION=us-east-1", "FERRY_HTTP_TOKEN=t",
				})
				r := l.invoke(b, "GET", "/dbsize", "t", "")
				first := time.Since(t0)
				if r.StatusCode != 200 || r.Body != `{"result":`+strconv.Itoa(keys)+`}` {
					b.Fatalf("DBSIZE = %d %s", r.StatusCode, r.Body)
				}
				b.ReportMetric(first.Seconds()*1000, "ms-to-first-answer")
				if m := readyTook.FindStringSubmatch(l.out.String()); m != nil {
					if ns, err := strconv.ParseInt(m[1], 10, 64); err == nil {
						b.ReportMetric(float64(ns)/1e6, "ms-init")
					}
				}
				b.ReportMetric(float64(snap.Size)/(1<<20), "MiB-snapshot")
				b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-binary")
				l.cmd.Process.Kill()
				l.cmd.Wait()
			}
		})
	}
}

var readyTook = regexp.MustCompile(`"msg":"replica ready".*"took":([0-9]+)`)
