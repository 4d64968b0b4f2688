package command

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ferrydb/ferry/internal/num"
	"github.com/ferrydb/ferry/internal/resp"
)

// Redis's replication handshake (replication.c): REPLCONF, SYNC and PSYNC,
// so that a stock redis-server (--replicaof) or redis-cli (--rdb,
// --replica) can replicate from a ferry node. The engine only checks the
// requests and records the replica's REPLCONF options; after SYNC or PSYNC
// the server hands the connection to the node's SyncProvider, which sends
// the RDB and the replication stream. A node without one refuses SYNC and
// PSYNC.

func init() {
	registrations = append(registrations, registerSync)
	for name, args := range map[string]string{
		"sync": "", "psync": "replicationid offset:i", "replconf": "",
	} {
		argSyntax[name] = args
	}
	noAsyncLoading["sync"], noAsyncLoading["psync"] = true, true
}

func registerSync(t *Table) {
	acl := []string{"admin", "slow", "dangerous"}
	t.Add(
		&Command{Name: "sync", Arity: 1, Flags: Admin | NoScript | NoMulti, Group: "server", Since: "1.0.0",
			Summary: "Makes the connection a replica: sends the dataset as RDB, then the replication stream.", ACL: acl, Handler: syncCmd},
		&Command{Name: "psync", Arity: -3, Flags: Admin | NoScript | NoMulti, Group: "server", Since: "2.8.0",
			Summary: "Makes the connection a replica: continues its replication stream, or sends the dataset in full first.", ACL: acl, Handler: syncCmd},
		&Command{Name: "replconf", Arity: -1, Flags: Admin | NoScript | Loading | Stale | AllowBusy, Group: "server", Since: "3.0.0",
			Summary: "Records a replica's options before SYNC or PSYNC.", ACL: acl, Handler: replconfCmd},
	)
}

// SyncRequest is what a replica asked for: SYNC or PSYNC, and the options
// it set with REPLCONF before.
type SyncRequest struct {
	// PSYNC is true for PSYNC (the reply starts with +FULLRESYNC), false
	// for the old SYNC (the RDB comes first).
	PSYNC bool
	// ReplID and Offset are PSYNC's arguments ("?" and -1 on a first sync);
	// a full resynchronization follows whatever they are.
	ReplID string
	Offset int64
	// ListeningPort and IPAddress are what REPLCONF listening-port and
	// ip-address announced (0 and "" when not sent).
	ListeningPort int64
	IPAddress     string
	// CapaEOF and CapaPSYNC2 are the capabilities REPLCONF capa announced.
	CapaEOF, CapaPSYNC2 bool
	// RDBOnly (REPLCONF rdb-only 1, redis-cli --rdb) wants the RDB and no
	// replication stream.
	RDBOnly bool
	// Filtered (REPLCONF rdb-filter-only: redis-cli --functions-rdb, and
	// --replica with an empty filter) wants an RDB without keys, holding
	// the function libraries when FunctionsOnly is set too.
	Filtered, FunctionsOnly bool
}

// SyncConn is a connection handed over after SYNC or PSYNC. It no longer
// runs commands: the provider owns it until ServeSync returns.
type SyncConn struct {
	// Conn is the socket; the server closes it after ServeSync.
	Conn net.Conn
	// Reader holds what the replica sent after SYNC or PSYNC and reads on
	// from Conn (REPLCONF ACK and the like).
	Reader *resp.Reader
	// Client is the engine's client of the connection: CLIENT LIST shows
	// it until the connection closes.
	Client *Client
	// Request is what the replica asked for.
	Request SyncRequest
}

// SyncProvider serves replicas: a master, or a replica for cascading
// replicas, implements it and installs it with SetSync.
type SyncProvider interface {
	// ServeSync sends the dataset and then the replication stream over c,
	// until the replica goes away, the stream fails or ctx ends (the
	// server closes). It runs on the connection's goroutine without the
	// engine lock and must not keep c after it returns.
	ServeSync(ctx context.Context, c SyncConn) error
}

// SyncReplica is a Redis replica a SyncProvider feeds, as INFO
// replication and ROLE list it.
type SyncReplica struct {
	// Addr is its announced address (ip-address or the connection's host,
	// and listening-port).
	Addr string
	// State is "wait_bgsave", "send_bulk" or "online", as Redis says.
	State string
	// Offset is the log offset of the last entry sent to it.
	Offset uint64
	// Acked is the log offset it acknowledged having applied (REPLCONF
	// ACK); WAIT counts it.
	Acked uint64
	// LastIO is when it last sent something (its REPLCONF ACKs).
	LastIO time.Time
}

// SyncLister is implemented by a SyncProvider that lists the Redis
// replicas it feeds. Its methods are called with the engine lock held.
type SyncLister interface {
	SyncReplicas() []SyncReplica
	// RequestAcks asks every replica to acknowledge its offset as soon
	// as it has been sent the entry at offset (REPLCONF GETACK); the
	// provider calls Engine.Poke when acks move.
	RequestAcks(offset uint64)
}

// SyncCounter is implemented by a SyncProvider that counts the
// synchronizations it served, for INFO stats (sync_full, sync_partial_ok
// and sync_partial_err, as Redis counts them). Called with the engine lock
// held.
type SyncCounter interface {
	SyncStats() (full, partialOK, partialErr int64)
}

// syncStats returns the SyncProvider's counts, zeros without one.
func (e *Engine) syncStats() (full, partialOK, partialErr int64) {
	if c, ok := e.cfg.Sync.(SyncCounter); ok {
		return c.SyncStats()
	}
	return 0, 0, 0
}

// syncReplicas lists the Redis replicas the node's SyncProvider feeds.
func (e *Engine) syncReplicas() []SyncReplica {
	if l, ok := e.cfg.Sync.(SyncLister); ok {
		return l.SyncReplicas()
	}
	return nil
}

// syncAcked counts the Redis replicas that acknowledged offset target.
func (e *Engine) syncAcked(target uint64) int64 {
	n := int64(0)
	for _, r := range e.syncReplicas() {
		if r.Acked >= target {
			n++
		}
	}
	return n
}

// requestSyncAcks asks the Redis replicas for their offsets once they
// have offset (WAIT).
func (e *Engine) requestSyncAcks(offset uint64) {
	if l, ok := e.cfg.Sync.(SyncLister); ok {
		l.RequestAcks(offset)
	}
}

// SetSync installs the node's SyncProvider (nil: SYNC and PSYNC reply
// with an error). Call before serving.
func (e *Engine) SetSync(p SyncProvider) {
	e.mu.Lock()
	e.cfg.Sync = p
	e.mu.Unlock()
}

// ErrNoSync is SYNC's and PSYNC's reply on a node that serves no replicas.
const ErrNoSync = "ERR ferry: this node does not serve Redis replicas (SYNC/PSYNC): it has no replication log"

// replState is a client's REPLCONF options and, once SYNC or PSYNC was
// accepted, its handover.
type replState struct {
	req      SyncRequest
	handover bool
}

// SyncRequested returns the request of a client whose SYNC or PSYNC was
// accepted, nil otherwise: the server then hands the connection to the
// SyncProvider once the replies before it are written.
func (cl *Client) SyncRequested() *SyncRequest {
	if cl.repl == nil || !cl.repl.handover {
		return nil
	}
	return &cl.repl.req
}

// syncReplica reports whether cl is a Redis replica's link: its SYNC or
// PSYNC was accepted. CLIENT LIST shows it with flag S and type replica
// (CLIENT KILL TYPE replica ends it), and INFO's connected_clients leaves
// it out, as Redis does with its replicas.
func (cl *Client) syncReplica() bool {
	return cl.repl != nil && cl.repl.handover
}

func (cl *Client) replConf() *replState {
	if cl.repl == nil {
		cl.repl = &replState{}
	}
	return cl.repl
}

// syncCmd serves SYNC and PSYNC as syncCommand does up to the full
// resynchronization, which the server hands to the provider.
func syncCmd(c *Ctx) {
	cl := c.Client
	if cl.monitor {
		return // Redis ignores SYNC from a monitor
	}
	psync := c.Is(0, "psync")
	var offset int64
	if psync {
		var ok bool
		if offset, ok = num.ParseInt(c.Args[2]); !ok {
			c.Error(ErrNotInt)
			return
		}
	}
	if c.e.cfg.Sync == nil {
		c.Error(ErrNoSync)
		return
	}
	cl.mu.Lock()
	pending := len(cl.pending) > 0
	cl.mu.Unlock()
	if cl.W.Len() > 0 || pending || cl.SubCount() > 0 || cl.trk.on {
		// Replies not yet written (pipelined before it, or a subscriber's
		// or tracking client's messages) would mix with the stream.
		c.Error("ERR SYNC and PSYNC are invalid with pending output")
		return
	}
	st := cl.replConf()
	if st.req.Filtered && !st.req.CapaEOF {
		c.Error("ERR Filtered replica requires EOF capability")
		return
	}
	st.req.PSYNC = psync
	if psync {
		st.req.ReplID, st.req.Offset = strings.Clone(c.Arg(1)), offset
	}
	st.handover = true
}

// replconfCmd records a replica's options (replconfCommand): it replies +OK
// to listening-port, ip-address, capa, rdb-only and rdb-filter-only, and
// nothing at all to ACK and GETACK.
func replconfCmd(c *Ctx) {
	if len(c.Args)%2 == 0 {
		c.Error(ErrSyntax)
		return
	}
	st := c.Client.replConf()
	for j := 1; j < len(c.Args); j += 2 {
		v := c.Args[j+1]
		switch {
		case c.Is(j, "listening-port"):
			port, ok := num.ParseInt(v)
			if !ok {
				c.Error(ErrNotInt)
				return
			}
			st.req.ListeningPort = port
		case c.Is(j, "ip-address"):
			if len(v) >= 256 { // NET_HOST_STR_LEN
				c.Error("ERR REPLCONF ip-address provided by replica instance is too long: " + strconv.Itoa(len(v)) + " bytes")
				return
			}
			st.req.IPAddress = string(v)
		case c.Is(j, "capa"):
			switch {
			case strings.EqualFold(view(v), "eof"):
				st.req.CapaEOF = true
			case strings.EqualFold(view(v), "psync2"):
				st.req.CapaPSYNC2 = true
			}
		case c.Is(j, "ack"), c.Is(j, "getack"):
			// A replica's acknowledgement, or a master's request for one:
			// never a reply. A connection serving a replica reads its
			// ACKs itself (the provider), so they do not come here.
			return
		case c.Is(j, "rdb-only"):
			n, ok := num.ParseInt(v)
			if !ok {
				c.Error(ErrNotInt)
				return
			}
			if n < 0 || n > 1 {
				c.Error("ERR value is out of range, value must between 0 and 1")
				return
			}
			st.req.RDBOnly = n == 1
		case c.Is(j, "rdb-filter-only"):
			filters, ok := resp.SplitArgs(v, nil)
			if !ok {
				c.Error("ERR Missing rdb-filter-only values")
				return
			}
			st.req.Filtered, st.req.FunctionsOnly = true, false
			for _, f := range filters {
				if !strings.EqualFold(view(f), "functions") {
					c.Error("ERR Unsupported rdb-filter-only option: " + string(f))
					return
				}
				st.req.FunctionsOnly = true
			}
		default:
			c.Error("ERR Unrecognized REPLCONF option: " + c.Arg(j))
			return
		}
	}
	c.W.OK()
}
