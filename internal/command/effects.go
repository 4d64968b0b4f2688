package command

import (
	"strconv"

	"github.com/ferrydb/ferry/internal/resp"
)

// Unit is the effect of one atomic unit of work (a command, a transaction,
// a served blocking pop, an expiry): RESP-encoded commands that bring a
// replica to the same state. Data assumes database 0 at its start and
// selects others with SELECT; EndDB is the database it leaves selected.
type Unit struct {
	Data  []byte
	EndDB int
	// Cmds is the number of commands in Data (SELECT, MULTI and EXEC included).
	Cmds int
}

// Log receives units in apply order, while the engine lock is held. It must
// not retain u.Data after returning.
type Log interface {
	Append(u Unit)
}

// OffsetLog is a Log that knows the log offset of the entry each unit goes
// to: WAIT then waits for the replicas to apply the client's own last
// write, as Redis's WAIT does, rather than the newest one.
type OffsetLog interface {
	Log
	// AppendAt is Append returning the offset of the entry that holds,
	// or will hold, u.
	AppendAt(u Unit) uint64
}

// effects accumulates the current unit.
type effects struct {
	buf   []byte
	db    int
	cmds  int  // commands in buf, SELECTs included
	real  int  // commands in buf, SELECTs excluded
	multi bool // wrap in MULTI/EXEC when it holds several commands (all but active expiry)
	count bool // nothing consumes effects: count them (for Dirty), do not encode
	other bool // holds effects other than expired keys' DELs
}

func (e *effects) reset() {
	e.buf = e.buf[:0]
	e.db = 0
	e.cmds = 0
	e.real = 0
	e.multi = true
	e.other = false
}

// add appends one command executed in database db.
func (e *effects) add(db int, args ...[]byte) {
	e.other = true
	e.addCmd(db, args...)
}

// addExpired appends the DEL of a key found expired in database db.
func (e *effects) addExpired(db int, key string) {
	e.addCmd(db, []byte("DEL"), []byte(key))
}

func (e *effects) addCmd(db int, args ...[]byte) {
	if e.count {
		e.cmds++
		e.real++
		return
	}
	if db != e.db {
		var tmp [4]byte
		e.appendCmd([]byte("SELECT"), strconv.AppendInt(tmp[:0], int64(db), 10))
		e.db = db
	}
	e.appendCmd(args...)
	e.real++
}

func (e *effects) appendCmd(args ...[]byte) {
	e.buf = resp.AppendCommand(e.buf, args...)
	e.cmds++
}

// finish closes a transaction's unit and returns the unit, or false when
// nothing was changed.
func (e *effects) finish() (Unit, bool) {
	if e.cmds == 0 {
		return Unit{}, false
	}
	if e.multi && e.real > 1 && !e.count {
		// Like Redis 7.0, a command or transaction that propagates more than
		// one command (an expired key's DEL and the command, SPOP's SREMs,
		// EXEC) is wrapped in MULTI/EXEC.
		const multi = "*1\r\n$5\r\nMULTI\r\n"
		e.buf = append(e.buf, multi...)
		copy(e.buf[len(multi):], e.buf[:len(e.buf)-len(multi)])
		copy(e.buf, multi)
		e.cmds++
		e.appendCmd([]byte("EXEC"))
	}
	return Unit{Data: e.buf, EndDB: e.db, Cmds: e.cmds}, true
}
