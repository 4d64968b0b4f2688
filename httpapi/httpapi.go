// Package httpapi serves ferry over HTTP with the Upstash Redis REST API,
// so that serverless clients written for Upstash (@upstash/redis,
// upstash-redis for Python...) work unchanged against a ferry master or
// replica:
//
//	POST /             ["SET","k","v"]             -> {"result":"OK"}
//	POST /pipeline     [["INCR","n"],["GET","k"]]  -> [{"result":1},{"result":"v"}]
//	POST /multi-exec   the same, run as MULTI/EXEC -> [{"result":...},...]
//	GET  /get/k        path-style: segments are arguments (URL-decoded); a
//	                   POST body is appended as the last argument, then the
//	                   query parameters (EX=100 -> EX 100)
//
// Requests carry "Authorization: Bearer <token>" (or ?_token=<token>).
// Replies are {"result": ...} or {"error": "..."}; with the request header
// "Upstash-Encoding: base64" every string in a result is base64-encoded
// except the status OK.
//
// Read-your-writes: every reply that ran commands carries the log offset
// it reflects in the "upstash-sync-token" response header; a request that
// carries that header waits until the node has applied the offset (bounded
// by Config.SyncTimeout, then 503). The handler runs commands on the
// node's engine itself and leaves what differs between a master and a
// replica to the Node it is given.
package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// Node is the ferry node the API serves: a master or a replica, adapted
// by the caller. Its methods are safe for concurrent use.
type Node interface {
	// Engine returns the engine commands run on.
	Engine() *command.Engine
	// Ack blocks until the effects of every unit up to need are as
	// durable as the node promises its RESP clients (need is the engine's
	// AckPoint once a request's commands ran; 0 means nothing to wait
	// for). An error means the replies must not be sent: the log may not
	// hold writes they report.
	Ack(ctx context.Context, need uint64) error
	// Offset returns the log offset the node's dataset reflects: after Ack
	// it is at least the offset of every write the acknowledged replies
	// saw.
	Offset() uint64
	// WaitOffset blocks until the node's dataset reflects log offset off,
	// or ctx ends (it returns ctx's error then).
	WaitOffset(ctx context.Context, off uint64) error
}

// Defaults.
const (
	// DefaultMaxBodyBytes bounds a request body (64 MiB).
	DefaultMaxBodyBytes = 64 << 20
	// DefaultSyncTimeout bounds the wait for a sync token's offset.
	DefaultSyncTimeout = 5 * time.Second
)

// Header names.
const (
	// SyncTokenHeader carries the log offset a reply reflects, and the
	// offset a request must see (read-your-writes).
	SyncTokenHeader = "Upstash-Sync-Token"
	// EncodingHeader set to "base64" asks for base64-encoded strings.
	EncodingHeader = "Upstash-Encoding"
)

// Config configures a Handler.
type Config struct {
	// Token is the bearer token every request must present. Required.
	Token string
	// MaxBodyBytes bounds a request body; larger ones get 413 (default
	// DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// SyncTimeout bounds the wait for a sync token's offset; past it the
	// request gets 503 (default DefaultSyncTimeout).
	SyncTimeout time.Duration
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Token == "" {
		return errors.New("httpapi: no token: set --http-token or FERRY_HTTP_TOKEN")
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Handler is the http.Handler serving the API for one node.
type Handler struct {
	node Node
	cfg  Config
	log  *slog.Logger
	// maxReply bounds the replies a pipeline buffers (maxReplyBytes).
	maxReply int
}

var _ http.Handler = (*Handler)(nil)

// New returns a handler serving node.
func New(node Node, cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Handler{node: node, cfg: cfg, log: cfg.Logger, maxReply: maxReplyBytes}, nil
}

// apiError is a request refused before or instead of running commands.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, PUT")
		writeError(w, http.StatusMethodNotAllowed, "ERR method "+r.Method+" not allowed: use GET, HEAD, POST or PUT")
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	mode, cmds, err := h.parse(w, r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	if tok := r.Header.Get(SyncTokenHeader); tok != "" {
		if err := h.waitToken(r.Context(), tok); err != nil {
			writeAPIError(w, err)
			return
		}
	}
	replies, need, err := h.run(cmds, mode == modeMulti, r.RemoteAddr, r.Host)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	if err := h.node.Ack(r.Context(), need); err != nil {
		h.log.Warn("http replies withheld: the log did not confirm the writes", "err", err)
		writeError(w, http.StatusServiceUnavailable, "ERR the replication log did not confirm the writes of this request; they may or may not be applied: "+err.Error())
		return
	}
	w.Header().Set(SyncTokenHeader, strconv.FormatUint(h.node.Offset(), 10))
	b64 := strings.EqualFold(r.Header.Get(EncodingHeader), "base64")
	status, body := respond(mode, replies, b64)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// authorized checks the bearer token, or the _token query parameter.
func (h *Handler) authorized(r *http.Request) bool {
	got := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		got = strings.TrimSpace(tok)
	} else {
		got = queryToken(r.URL.RawQuery)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(h.cfg.Token)) == 1
}

func queryToken(raw string) string {
	for _, p := range splitQuery(raw) {
		if p.key == "_token" {
			return p.value
		}
	}
	return ""
}

// waitToken waits until the node reflects the offset a sync token names.
func (h *Handler) waitToken(ctx context.Context, tok string) error {
	off, err := strconv.ParseUint(strings.TrimSpace(tok), 10, 64)
	if err != nil {
		return badRequest("ERR invalid %s %q: want the decimal log offset a ferry reply carried", strings.ToLower(SyncTokenHeader), tok)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.SyncTimeout)
	defer cancel()
	if err := h.node.WaitOffset(ctx, off); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &apiError{http.StatusServiceUnavailable, fmt.Sprintf(
				"ERR sync token not reached: this node has applied offset %d, the request needs %d (waited %s)",
				h.node.Offset(), off, h.cfg.SyncTimeout)}
		}
		// The node cannot get there (its apply loop stopped), or the
		// client went away.
		return &apiError{http.StatusServiceUnavailable, fmt.Sprintf("ERR sync token %d not reached: %v", off, err)}
	}
	return nil
}

// Request modes.
const (
	modeSingle = iota
	modePipeline
	modeMulti
)

// parse reads the request's commands.
func (h *Handler) parse(w http.ResponseWriter, r *http.Request) (mode int, cmds [][][]byte, err error) {
	path := r.URL.EscapedPath()
	var body []byte
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return 0, nil, &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("ERR request body larger than %d bytes", mbe.Limit)}
			}
			return 0, nil, badRequest("ERR cannot read the request body: %v", err)
		}
	}
	switch path {
	case "/", "":
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return 0, nil, badRequest("ERR no command: POST a JSON array such as [\"GET\",\"key\"], or GET /get/key")
		}
		cmd, err := parseCommand(body)
		if err != nil {
			return 0, nil, err
		}
		return modeSingle, [][][]byte{cmd}, nil
	case "/pipeline", "/multi-exec":
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return 0, nil, &apiError{http.StatusMethodNotAllowed, "ERR " + path + " takes a POST of a JSON array of commands"}
		}
		cmds, err := parseCommands(body)
		if err != nil {
			return 0, nil, err
		}
		if path == "/pipeline" {
			return modePipeline, cmds, nil
		}
		return modeMulti, cmds, nil
	}
	cmd, err := parsePath(path, body, r.URL.RawQuery)
	if err != nil {
		return 0, nil, err
	}
	return modeSingle, [][][]byte{cmd}, nil
}

// parsePath reads a path-style command: /cmd/arg1/arg2, URL-decoded
// segments; a body is appended as the last argument, then the query
// parameters other than _token (name, and value when not empty).
func parsePath(path string, body []byte, rawQuery string) ([][]byte, error) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) > 1 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1] // a trailing slash
	}
	cmd := make([][]byte, 0, len(segs)+1)
	for _, s := range segs {
		a, err := url.PathUnescape(s)
		if err != nil {
			return nil, badRequest("ERR malformed path segment %q: %v", s, err)
		}
		cmd = append(cmd, []byte(a))
	}
	if len(cmd[0]) == 0 {
		return nil, badRequest("ERR empty command name")
	}
	if len(body) > 0 {
		cmd = append(cmd, body)
	}
	for _, p := range splitQuery(rawQuery) {
		if p.key == "_token" {
			continue
		}
		cmd = append(cmd, []byte(p.key))
		if p.value != "" {
			cmd = append(cmd, []byte(p.value))
		}
	}
	return cmd, nil
}

type queryParam struct{ key, value string }

// splitQuery splits a raw query in order (url.Values forgets the order,
// which is the order of the arguments). Malformed escapes are kept as
// they are.
func splitQuery(raw string) []queryParam {
	var out []queryParam
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		out = append(out, queryParam{k, v})
	}
	return out
}

// Request limits the JSON decoder enforces as it reads, so that a body
// within --http-max-body cannot cost many times its size once parsed.
const (
	// maxPipeline bounds the commands of one /pipeline or /multi-exec.
	maxPipeline = 100_000
	// maxArgs bounds the arguments of one command (Redis's bound on a
	// multibulk request).
	maxArgs = 1024 * 1024
)

const (
	wantCommand  = "want an array such as [\"SET\",\"key\",\"value\"]"
	wantCommands = "want an array of commands such as [[\"SET\",\"key\",\"value\"],[\"GET\",\"key\"]]"
)

// parseCommand reads a JSON array command: ["SET","k","v"]. Strings are
// taken as they are; numbers and booleans as their JSON text (clients send
// ["INCRBY","n",5]).
func parseCommand(body []byte) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	raw, err := decodeCommand(dec)
	if err == nil {
		err = decodeEnd(dec)
	}
	if err != nil {
		return nil, malformed(err, wantCommand)
	}
	return commandArgs(raw)
}

// parseCommands reads a JSON array of commands (pipeline, multi-exec).
func parseCommands(body []byte) ([][][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := decodeOpen(dec); err != nil {
		return nil, malformed(err, wantCommands)
	}
	var cmds [][][]byte
	for dec.More() {
		if len(cmds) == maxPipeline {
			return nil, badRequest("ERR more than %d commands in one request: split it", maxPipeline)
		}
		raw, err := decodeCommand(dec)
		if err != nil {
			return nil, malformed(err, wantCommands)
		}
		args, err := commandArgs(raw)
		if err != nil {
			err.(*apiError).msg += fmt.Sprintf(" (command %d)", len(cmds)+1)
			return nil, err
		}
		cmds = append(cmds, args)
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed(err, wantCommands)
	}
	if err := decodeEnd(dec); err != nil {
		return nil, malformed(err, wantCommands)
	}
	if len(cmds) == 0 {
		return nil, badRequest("ERR empty array of commands")
	}
	return cmds, nil
}

// decodeOpen reads the '[' that starts an array.
func decodeOpen(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("found %v where an array starts", tok)
	}
	return nil
}

// decodeCommand reads one command's array, its elements left raw.
func decodeCommand(dec *json.Decoder) ([]json.RawMessage, error) {
	if err := decodeOpen(dec); err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	for dec.More() {
		if len(raw) == maxArgs {
			return nil, badRequest("ERR more than %d arguments in one command", maxArgs)
		}
		var r json.RawMessage
		if err := dec.Decode(&r); err != nil {
			return nil, err
		}
		raw = append(raw, r)
	}
	_, err := dec.Token() // ']'
	return raw, err
}

// decodeEnd checks that nothing follows the value.
func decodeEnd(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return errors.New("data after the array")
		}
		return err
	}
	return nil
}

// malformed turns a decoding error into a 400, keeping the limits' own.
func malformed(err error, want string) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return badRequest("ERR malformed JSON: %s: %v", want, err)
}

// commandArgs turns a command's raw JSON elements into arguments.
func commandArgs(raw []json.RawMessage) ([][]byte, error) {
	if len(raw) == 0 {
		return nil, badRequest("ERR empty command")
	}
	args := make([][]byte, len(raw))
	for i, r := range raw {
		switch {
		case len(r) > 0 && r[0] == '"':
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return nil, badRequest("ERR malformed JSON string: %v", err)
			}
			args[i] = []byte(s)
		case len(r) > 0 && (r[0] == '-' || r[0] >= '0' && r[0] <= '9'), string(r) == "true", string(r) == "false":
			args[i] = []byte(r)
		default:
			return nil, badRequest("ERR command arguments must be strings or numbers, got %s", trunc(string(r), 64))
		}
	}
	if len(args[0]) == 0 {
		return nil, badRequest("ERR empty command name")
	}
	return args, nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// writeError writes {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(errorBody(nil, msg))
}

func writeAPIError(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeError(w, ae.status, ae.msg)
		return
	}
	writeError(w, http.StatusInternalServerError, "ERR "+err.Error())
}

func errorBody(dst []byte, msg string) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendString(dst, []byte(msg))
	return append(dst, '}')
}
