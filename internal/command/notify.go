package command

import (
	"strconv"
	"strings"
)

// Keyspace notifications, after Redis 7.0's notify.c: with the
// notify-keyspace-events setting on, an event of an enabled class published
// as `__keyspace@<db>__:<key>` (message: the event) when K is set and as
// `__keyevent@<db>__:<event>` (message: the key) when E is set, to channel
// and pattern subscribers. Handlers call notify where Redis calls
// notifyKeyspaceEvent, with the same event names, classes and order.
//
// These messages are not effects: nothing is recorded for the log. A
// replica, applying the master's effects through the same handlers, raises
// its own notifications for its own subscribers, as a Redis replica does
// (where an expiry on the master reaches it as a DEL, so its subscribers see
// del, not expired).

// Notification classes: bits of notify-keyspace-events, as Redis numbers them.
const (
	notifyKeyspace = 1 << 0  // K
	notifyKeyevent = 1 << 1  // E
	notifyGeneric  = 1 << 2  // g
	notifyString   = 1 << 3  // $
	notifyList     = 1 << 4  // l
	notifySet      = 1 << 5  // s
	notifyHash     = 1 << 6  // h
	notifyZSet     = 1 << 7  // z
	notifyExpired  = 1 << 8  // x
	notifyEvicted  = 1 << 9  // e
	notifyStream   = 1 << 10 // t
	notifyKeyMiss  = 1 << 11 // m (not part of A)
	notifyModule   = 1 << 13 // d
	notifyNew      = 1 << 14 // n (not part of A)
	notifyAll      = notifyGeneric | notifyString | notifyList | notifySet | notifyHash | notifyZSet | notifyExpired | notifyEvicted | notifyStream | notifyModule
)

// errNotifyClass is CONFIG SET's complaint about a letter that is no class.
const errNotifyClass = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

// parseNotifyFlags turns a notify-keyspace-events value into its classes,
// or reports false on a character that names none.
func parseNotifyFlags(s string) (int, bool) {
	flags := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'A':
			flags |= notifyAll
		case 'g':
			flags |= notifyGeneric
		case '$':
			flags |= notifyString
		case 'l':
			flags |= notifyList
		case 's':
			flags |= notifySet
		case 'h':
			flags |= notifyHash
		case 'z':
			flags |= notifyZSet
		case 'x':
			flags |= notifyExpired
		case 'e':
			flags |= notifyEvicted
		case 'K':
			flags |= notifyKeyspace
		case 'E':
			flags |= notifyKeyevent
		case 't':
			flags |= notifyStream
		case 'm':
			flags |= notifyKeyMiss
		case 'd':
			flags |= notifyModule
		case 'n':
			flags |= notifyNew
		default:
			return 0, false
		}
	}
	return flags, true
}

// formatNotifyFlags is CONFIG GET's canonical form of flags: A when every
// class of A is on, else the classes one by one, then K, E and m.
func formatNotifyFlags(flags int) string {
	var b strings.Builder
	if flags&notifyAll == notifyAll {
		b.WriteByte('A')
	} else {
		for _, f := range []struct {
			bit int
			c   byte
		}{
			{notifyGeneric, 'g'}, {notifyString, '$'}, {notifyList, 'l'}, {notifySet, 's'},
			{notifyHash, 'h'}, {notifyZSet, 'z'}, {notifyExpired, 'x'}, {notifyEvicted, 'e'},
			{notifyStream, 't'}, {notifyModule, 'd'}, {notifyNew, 'n'},
		} {
			if flags&f.bit != 0 {
				b.WriteByte(f.c)
			}
		}
	}
	if flags&notifyKeyspace != 0 {
		b.WriteByte('K')
	}
	if flags&notifyKeyevent != 0 {
		b.WriteByte('E')
	}
	if flags&notifyKeyMiss != 0 {
		b.WriteByte('m')
	}
	return b.String()
}

func init() {
	p := &configParam{name: "notify-keyspace-events",
		get: func(e *Engine) string { return formatNotifyFlags(e.srv().settings.notifyFlags) },
		parse: func(v string) (any, string) {
			flags, ok := parseNotifyFlags(v)
			if !ok {
				return nil, errNotifyClass
			}
			return flags, ""
		},
		set: func(e *Engine, v any) { e.srv().settings.notifyFlags = v.(int) }}
	configParams = append(configParams, p)
	configByName[p.name] = p
}

// notify raises event of class for key in the client's database.
func (c *Ctx) notify(class int, event, key string) {
	c.e.notifyKeyspace(class, event, key, c.DB.Index())
}

// notifyIn raises event of class for key in database db.
func (c *Ctx) notifyIn(db int, class int, event, key string) {
	c.e.notifyKeyspace(class, event, key, db)
}

// notifyKeyspace publishes event of class for key in database db when
// notify-keyspace-events enables the class: to the keyspace channel with K,
// to the keyevent channel with E. The caller holds the lock.
func (e *Engine) notifyKeyspace(class int, event, key string, db int) {
	flags := e.srv().settings.notifyFlags
	if flags&class == 0 {
		return
	}
	var tmp [64]byte
	if flags&notifyKeyspace != 0 {
		ch := append(tmp[:0], "__keyspace@"...)
		ch = strconv.AppendInt(ch, int64(db), 10)
		ch = append(ch, "__:"...)
		ch = append(ch, key...)
		e.publish(ch, []byte(event), &plainKind)
	}
	if flags&notifyKeyevent != 0 {
		ch := append(tmp[:0], "__keyevent@"...)
		ch = strconv.AppendInt(ch, int64(db), 10)
		ch = append(ch, "__:"...)
		ch = append(ch, event...)
		e.publish(ch, []byte(key), &plainKind)
	}
}

// keyMiss raises keymiss for a read lookup that found no key (Redis's
// lookupKeyRead without LOOKUP_NONOTIFY).
func (c *Ctx) keyMiss(key string) {
	c.e.notifyKeyspace(notifyKeyMiss, "keymiss", key, c.DB.Index())
}
