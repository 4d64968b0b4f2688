// Command ferry-lambda is a ferry replica that runs as an AWS Lambda
// function and answers HTTP requests (the Upstash Redis REST API, package
// httpapi) from Function URLs or API Gateway HTTP APIs.
//
// A cold start loads the dataset's newest snapshot from the store and
// catches up from the log before the first answer; every invocation first
// catches up with the log's last offset (one request to NATS, then the
// entries since the previous invocation), bounded by FERRY_MAX_STALENESS:
// if it cannot, it answers 503 rather than data older than that, and it
// never answers from an empty or unloaded dataset.
//
// It is configured by environment variables, named as ferry's flags:
// FERRY_NATS, FERRY_DATASET, FERRY_STORE, FERRY_HTTP_TOKEN (required),
// FERRY_S3_ENDPOINT, FERRY_S3_REGION, FERRY_NATS_CREDS, FERRY_NATS_USER,
// FERRY_NATS_PASSWORD, FERRY_NATS_TOKEN, FERRY_NATS_TLS_CA, FERRY_LOG_MIRROR (a
// JetStream mirror of the log to read instead of the stream),
// FERRY_MAX_STALENESS (default 1s), FERRY_LOG_LEVEL. Build it for
// provided.al2023 as "bootstrap":
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w" -o bootstrap ./cmd/ferry-lambda
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ferrydb/ferry/httpapi"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/stores"
	"github.com/ferrydb/ferry/stream/jetstream"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(os.Getenv("FERRY_LOG_LEVEL"))}))
	if limit := memoryLimit(os.Getenv); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	fn, err := start(context.Background(), os.Getenv, logger)
	if err != nil {
		logger.Error("ferry-lambda: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(fn.invoke)
}

// memoryLimit is the Go memory limit for a function of
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE MiB: 90% of it, so that the collector
// works harder as the heap nears the function's memory rather than the
// function being killed (a snapshot load turns the proportional trigger
// off, and the first catch-up lets the heap grow by snapshot.GCHeadroom). 0 when
// GOMEMLIMIT is set (the runtime applied it) or the size is unknown.
func memoryLimit(env func(string) string) int64 {
	if env("GOMEMLIMIT") != "" {
		return 0
	}
	mib, err := strconv.ParseInt(env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64)
	if err != nil || mib <= 0 {
		return 0
	}
	return (mib << 20) * 9 / 10
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}

// function is one Lambda execution environment's replica.
type function struct {
	r            *replica.Replica
	api          http.Handler
	maxStaleness time.Duration
	log          *slog.Logger

	mu     sync.Mutex
	synced time.Time // when the replica was last known current
}

// start opens the log and the store, starts the replica and waits (up to
// initWait) for it to load and catch up, so that the first invocation
// finds it ready; if it is not, invocations wait for it.
func start(ctx context.Context, env func(string) string, logger *slog.Logger) (*function, error) {
	dataset := env("FERRY_DATASET")
	if dataset == "" {
		dataset = "default"
	}
	url := env("FERRY_NATS")
	if url == "" {
		return nil, errors.New("FERRY_NATS is not set: the NATS URL of the dataset's log")
	}
	maxStale := time.Second
	if v := env("FERRY_MAX_STALENESS"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("FERRY_MAX_STALENESS %q: want a positive duration such as 1s", v)
		}
		maxStale = d
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return nil, err
	}
	lg, err := jetstream.Open(ctx, jetstream.Config{
		URL: url, Dataset: dataset, ReadOnly: true, Name: "ferry-lambda",
		CredsFile: env("FERRY_NATS_CREDS"), User: env("FERRY_NATS_USER"), Password: env("FERRY_NATS_PASSWORD"),
		Token: env("FERRY_NATS_TOKEN"), TLSCA: env("FERRY_NATS_TLS_CA"), Mirror: env("FERRY_LOG_MIRROR"), Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	r, err := replica.New(replica.Config{Log: lg, Dataset: dataset, Store: st, ServeStaleData: true, Logger: logger, Version: "lambda"})
	if err != nil {
		lg.Close()
		return nil, err
	}
	api, err := httpapi.New(r, httpapi.Config{Token: env("FERRY_HTTP_TOKEN"), Logger: logger})
	if err != nil {
		lg.Close()
		return nil, err
	}
	r.Start()
	fn := &function{r: r, api: api, maxStaleness: maxStale, log: logger}
	t0 := time.Now()
	initCtx, cancel := context.WithTimeout(ctx, initWait)
	defer cancel()
	if err := fn.catchUp(initCtx); err != nil {
		logger.Warn("not caught up during init: the first invocation waits", "err", err)
	} else {
		logger.Info("replica ready", "dataset", dataset, "offset", r.Offset(), "took", time.Since(t0).Round(time.Millisecond))
	}
	return fn, nil
}

// initWait bounds the catch-up during Lambda's init phase (10 s at most).
const initWait = 8 * time.Second

// answerMargin is left between a timed-out catch-up and the staleness
// bound for answering.
const answerMargin = 20 * time.Millisecond

// openStore opens FERRY_STORE; a Lambda replica needs one (it has no disk
// and must not replay the whole log on every cold start).
func openStore(ctx context.Context, env func(string) string) (snapshot.Store, error) {
	u := env("FERRY_STORE")
	if u == "" {
		return nil, errors.New("FERRY_STORE is not set: s3://BUCKET/PREFIX where the master writes snapshots")
	}
	return stores.Open(ctx, u, stores.Options{Endpoint: env("FERRY_S3_ENDPOINT"), Region: env("FERRY_S3_REGION")})
}

// catchUp waits until the replica has applied the log's last offset.
func (f *function) catchUp(ctx context.Context) error {
	began := time.Now()
	last, err := f.r.LogLast(ctx)
	if err == nil {
		err = f.r.WaitOffset(ctx, last)
	}
	// Offset 0 is reached at once: also wait for the first snapshot load.
	for err == nil {
		if state, _, _ := f.r.Status(); state != replica.StateLoading && state != replica.StateCatchingUp {
			break
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("still loading: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.synced = began
	f.mu.Unlock()
	return nil
}

// invoke answers one HTTP event once the replica has caught up with the
// log. A replica that was current less than maxStaleness ago may answer
// without catching up, as long as it answers within maxStaleness of that
// moment: the catch-up gets only what is left of the bound. Otherwise 503.
func (f *function) invoke(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	f.mu.Lock()
	synced := f.synced
	f.mu.Unlock()
	budget := f.maxStaleness
	if !synced.IsZero() {
		// A margin, so that an answer after a catch-up that timed out is
		// still within the bound.
		if left := f.maxStaleness - time.Since(synced) - answerMargin; left > 0 {
			budget = left
		}
	}
	cctx, cancel := context.WithTimeout(ctx, budget)
	err := f.catchUp(cctx)
	cancel()
	if err != nil {
		if synced.IsZero() || time.Since(synced) > f.maxStaleness {
			f.log.Warn("not answering: cannot catch up with the log", "err", err)
			msg := "ferry: the replica cannot catch up with the log within " + f.maxStaleness.String() + ": " + err.Error()
			if synced.IsZero() {
				msg = "LOADING ferry is loading the dataset: " + err.Error()
			}
			return errorResponse(http.StatusServiceUnavailable, strings.TrimSpace(msg)), nil
		}
		f.log.Warn("answering from the last catch-up, within the staleness bound", "age", time.Since(synced).Round(time.Millisecond), "err", err)
	}
	return serveEvent(ctx, f.api, ev)
}
