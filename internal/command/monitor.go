package command

import (
	"strconv"
	"strings"
	"time"
)

func registerMonitor(t *Table) {
	t.Add(&Command{Name: "monitor", Arity: 1, Flags: Admin | NoScript | Loading | Stale, Group: "server", Since: "1.0.0",
		Summary: "Streams every command the server runs.", ACL: []string{"admin", "slow", "dangerous"}, Handler: monitorCmd})
}

// monitorCmd puts the client in monitor mode: from now on it receives a
// line for every command the server runs. A client already monitoring
// gets no reply, as from Redis.
func monitorCmd(c *Ctx) {
	cl := c.Client
	if c.e.execing == cl {
		// Queued in a transaction, as Redis refuses a client that may not
		// block.
		c.Error("ERR MONITOR isn't allowed for DENY BLOCKING client")
		return
	}
	if cl.monitor {
		return
	}
	cl.monitor = true
	if c.e.monitors == nil {
		c.e.monitors = make(map[*Client]struct{})
	}
	c.e.monitors[cl] = struct{}{}
	c.W.OK()
}

// Monitoring reports whether cl is in monitor mode (its output is then
// asynchronous, as a subscriber's).
func (cl *Client) Monitoring() bool { return cl.monitor }

// stopMonitor takes cl out of monitor mode (RESET, or the client closed).
func (e *Engine) stopMonitor(cl *Client) {
	if cl.monitor {
		cl.monitor = false
		delete(e.monitors, cl)
	}
}

// feedMonitors sends the command cl just ran to the monitors, as Redis does
// after a command ran: the time, the client's database and address, and
// the arguments quoted. Administrative commands are not shown, and AUTH's
// and HELLO's credentials are redacted. The caller holds the lock.
func (e *Engine) feedMonitors(cl *Client, cmd *Command, args [][]byte) {
	if cmd.Flags&Admin != 0 {
		return
	}
	now := time.Now()
	b := make([]byte, 0, 64)
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	// The microseconds in six digits: 1xxxxxx with its 1 turned into the dot.
	dot := len(b)
	b = strconv.AppendInt(b, 1_000_000+int64(now.Nanosecond()/1000), 10)
	b[dot] = '.'
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(cl.DB), 10)
	b = append(b, ' ')
	b = append(b, cl.Addr...)
	b = append(b, ']')
	hide := redacted(cmd.Name, args)
	for i, a := range args {
		b = append(b, ' ')
		if hide != nil && hide[i] {
			b = append(b, `"(redacted)"`...)
			continue
		}
		b = AppendRepr(b, a)
	}
	b = append(b, '\r', '\n')
	for m := range e.monitors {
		e.deliver(m, b)
	}
}

// redacted marks the arguments a monitor must not see (nil: none): AUTH's,
// ACL SETUSER's, the user name and password after HELLO's AUTH, and
// MIGRATE's AUTH and AUTH2 credentials, which Redis's migrateCommand
// redacts as it parses its options, up to KEYS or the first it does not
// know.
func redacted(name string, args [][]byte) []bool {
	switch name {
	case "auth":
		return redactFrom(nil, args, 1, len(args))
	case "acl|setuser":
		// All of it, the user name too (ferry refuses the command, but
		// its rules may hold passwords).
		return redactFrom(nil, args, 2, len(args))
	case "hello":
		for i := 2; i < len(args); i++ {
			if strings.EqualFold(view(args[i]), "auth") {
				return redactFrom(nil, args, i+1, i+3)
			}
		}
	case "migrate":
		var hide []bool
		for j := 6; j < len(args); j++ {
			more := len(args) - 1 - j
			switch a := view(args[j]); {
			case strings.EqualFold(a, "copy"), strings.EqualFold(a, "replace"):
			case strings.EqualFold(a, "auth") && more >= 1:
				hide = redactFrom(hide, args, j+1, j+2)
				j++
			case strings.EqualFold(a, "auth2") && more >= 2:
				hide = redactFrom(hide, args, j+1, j+3)
				j += 2
			default:
				return hide
			}
		}
		return hide
	}
	return nil
}

// redactFrom marks args[from:to] (within args) in hide, made as needed.
func redactFrom(hide []bool, args [][]byte, from, to int) []bool {
	if hide == nil {
		hide = make([]bool, len(args))
	}
	for i := from; i < to && i < len(args); i++ {
		hide[i] = true
	}
	return hide
}

// AppendRepr appends s quoted the way Redis's sdscatrepr does (MONITOR's
// arguments, redis-cli's strings): printable ASCII as is, \\ \" \n \r \t
// \a \b escaped, other bytes as \xHH.
func AppendRepr(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if c >= 0x20 && c <= 0x7e {
				b = append(b, c)
			} else {
				b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			}
		}
	}
	return append(b, '"')
}
