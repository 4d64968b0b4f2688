package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/ferrydb/ferry/internal/command"
)

// maxBatchOutput bounds the replies a pipeline produces under one
// acquisition of the engine lock, as the RESP server bounds a batch, so
// that a long pipeline does not hold other clients back.
const maxBatchOutput = 64 * 1024

// maxReplyBytes bounds the replies of one pipeline. The RESP server writes
// replies out as a pipeline runs; an HTTP answer holds them all (and their
// JSON), so past this bound the rest of a pipeline is not run: a request
// of a few kilobytes must not make the node buffer gigabytes. One reply
// larger than the bound is answered whole, as over RESP; a transaction
// runs whole.
const maxReplyBytes = 64 << 20

// subcommand returns args' subcommand in lower case, or "".
func subcommand(args [][]byte) string {
	if len(args) < 2 {
		return ""
	}
	return strings.ToLower(string(args[1]))
}

// refusal says why a command cannot run over HTTP, or "".
func refusal(tab *command.Table, args [][]byte, inMulti bool) string {
	name := strings.ToLower(string(args[0]))
	switch name {
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor":
		return "it needs a long-lived connection: use the RESP port"
	case "multi", "exec", "discard", "watch", "unwatch":
		return "send the commands of a transaction to POST /multi-exec"
	case "hello", "reset", "quit", "auth":
		return "it manages a RESP connection; HTTP requests authenticate with their bearer token"
	case "wait":
		return "it blocks: HTTP requests do not wait on other clients"
	case "shutdown":
		return "it stops the node: use the RESP port, or stop the process"
	case "debug":
		return "it inspects or stalls the node (DEBUG SLEEP holds every client): use the RESP port"
	case "config":
		if sub := subcommand(args); sub != "" && sub != "get" && sub != "help" {
			return "it changes the node's settings (requirepass...): use the RESP port; CONFIG GET works"
		}
	case "client":
		switch subcommand(args) {
		case "reply":
			return "every HTTP command gets its reply"
		case "kill":
			return "it closes other clients' connections: use the RESP port"
		}
	}
	if cmd := tab.Lookup(args[0]); cmd != nil && cmd.Flags&command.Blocking != 0 && !inMulti {
		return "it blocks: use its non-blocking form (LPOP, RPOP, LMOVE, ZPOPMIN...)"
	}
	return ""
}

// run executes cmds on a fresh client of the engine and returns one reply
// per command; with multi, cmds run as MULTI, cmds..., EXEC and the
// replies are those of MULTI, of each command (QUEUED or an error) and of
// EXEC. need is the engine's AckPoint once they ran.
func (h *Handler) run(cmds [][][]byte, multi bool, remote, local string) ([]reply, uint64, error) {
	e := h.node.Engine()
	for i, args := range cmds {
		if why := refusal(e.Table(), args, multi); why != "" {
			msg := fmt.Sprintf("ERR '%s' is not available over HTTP: %s", strings.ToLower(trunc(string(args[0]), 64)), why)
			if len(cmds) > 1 {
				msg += fmt.Sprintf(" (command %d)", i+1)
			}
			return nil, 0, badRequest("%s", msg)
		}
	}
	if multi {
		all := make([][][]byte, 0, len(cmds)+2)
		all = append(all, [][]byte{[]byte("MULTI")})
		all = append(all, cmds...)
		cmds = append(all, [][]byte{[]byte("EXEC")})
	}
	ends := make([]int, 0, len(cmds)) // where each command's reply ends in cl.W.Buf
	e.Lock()
	cl := e.NewClient(remote, local)
	cl.Authed = true // the bearer token stands for AUTH
	cl.Name = "http"
	batchStart := 0
	tooBig := false
	for _, args := range cmds {
		if !multi && len(cl.W.Buf) > h.maxReply {
			tooBig = true
			break
		}
		if !multi && len(cl.W.Buf)-batchStart > maxBatchOutput {
			// A long pipeline lets other clients in, as the RESP server
			// does between batches; a transaction runs whole.
			e.Unlock()
			e.Lock()
			batchStart = len(cl.W.Buf)
		}
		ok := e.Exec(cl, args)
		if cl.Blocked() != nil {
			// Nothing that blocks gets here (refusal); should a command
			// block all the same, it gets its timeout reply at once.
			e.TimeoutBlocked(cl)
		}
		ends = append(ends, len(cl.W.Buf))
		if !ok {
			break // CLIENT KILL of this very client: nothing more runs
		}
	}
	need := e.AckPoint()
	e.CloseClient(cl)
	e.Unlock()

	notRun := []byte("ERR the command was not run: the client was closed")
	if tooBig {
		notRun = fmt.Appendf(nil, "ERR the command was not run: the replies of this request passed %d bytes; send the rest in another request", h.maxReply)
	}
	replies := make([]reply, len(cmds))
	from := 0
	for i := range cmds {
		if i >= len(ends) {
			replies[i] = reply{kind: '-', str: notRun}
			continue
		}
		if ends[i] == from {
			// It ran and closed the client without a reply (no command
			// allowed over HTTP does; SHUTDOWN and CLIENT KILL are refused).
			replies[i] = reply{kind: '-', str: []byte("ERR no reply: the command closed the connection")}
			continue
		}
		r, rest, err := parseReply(cl.W.Buf[from:ends[i]])
		if err != nil || len(rest) > 0 {
			h.log.Error("http: unparsable engine reply", "command", string(cmds[i][0]), "err", err)
			return nil, 0, &apiError{http.StatusInternalServerError, "ERR internal error: unparsable reply"}
		}
		replies[i] = r
		from = ends[i]
	}
	return replies, need, nil
}

// unavailable reports whether an error reply says the node cannot serve
// now (loading, or its log is out of reach): HTTP 503.
func unavailable(r reply) bool {
	return r.isError() && (bytes.HasPrefix(r.str, []byte("LOADING")) || bytes.HasPrefix(r.str, []byte("MASTERDOWN")))
}

// respond returns the status and body of a request's replies.
func respond(mode int, replies []reply, b64 bool) (int, []byte) {
	for _, r := range replies {
		if unavailable(r) {
			return http.StatusServiceUnavailable, errorBody(nil, r.errText())
		}
	}
	switch mode {
	case modeSingle:
		r := replies[0]
		if r.isError() {
			return http.StatusBadRequest, errorBody(nil, r.errText())
		}
		return http.StatusOK, resultBody(nil, r, b64)
	case modePipeline:
		return http.StatusOK, resultsBody(replies, b64)
	}
	// MULTI, the queued commands, EXEC.
	exec := replies[len(replies)-1]
	if exec.isError() {
		// Queued with an error: EXECABORT names the first one.
		msg := exec.errText()
		for _, r := range replies[1 : len(replies)-1] {
			if r.isError() {
				msg = strings.TrimSuffix(msg, ".") + ": " + r.errText()
				break
			}
		}
		return http.StatusBadRequest, errorBody(nil, msg)
	}
	if exec.null {
		return http.StatusBadRequest, errorBody(nil, "EXECABORT Transaction discarded")
	}
	return http.StatusOK, resultsBody(exec.arr, b64)
}

// resultBody is {"result": r} or {"error": "..."}.
func resultBody(dst []byte, r reply, b64 bool) []byte {
	if r.isError() {
		return errorBody(dst, r.errText())
	}
	dst = append(dst, `{"result":`...)
	dst = r.appendJSON(dst, b64)
	return append(dst, '}')
}

// resultsBody is an array of resultBody.
func resultsBody(rs []reply, b64 bool) []byte {
	dst := []byte{'['}
	for i, r := range rs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = resultBody(dst, r, b64)
	}
	return append(dst, ']')
}
