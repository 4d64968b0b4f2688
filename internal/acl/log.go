package acl

// Context is where a refused command ran, for the ACL log.
type Context int

// Log contexts, as ACL LOG names them.
const (
	TopLevel Context = iota
	Multi
	Lua
)

// String returns the context's name in ACL LOG.
func (c Context) String() string {
	switch c {
	case TopLevel:
		return "toplevel"
	case Multi:
		return "multi"
	case Lua:
		return "lua"
	}
	return "unknown"
}

// Reason returns the reason's name in ACL LOG.
func (r Result) Reason() string {
	switch r {
	case DeniedCommand:
		return "command"
	case DeniedKey:
		return "key"
	case DeniedChannel:
		return "channel"
	case DeniedAuth:
		return "auth"
	}
	return "unknown"
}

// Message is the reason a script's command was refused, after "The user
// executing the script " (getAclErrorMessage).
func (r Result) Message() string {
	switch r {
	case DeniedCommand:
		return "can't run this command or subcommand"
	case DeniedKey:
		return "can't access at least one of the keys mentioned in the command arguments"
	case DeniedChannel:
		return "can't publish to the channel mentioned in the command"
	}
	return "lacking the permissions for the command"
}

// Entry is one entry of the ACL log.
type Entry struct {
	Count    int64
	Reason   Result
	Context  Context
	Object   string // the command, key, channel, or AUTH's name
	Username string
	Time     int64  // unix milliseconds of its last occurrence
	Client   string // CLIENT INFO's line of the client, at its last occurrence
}

// DefaultLogMaxLen is acllog-max-len's default.
const DefaultLogMaxLen = 128

// groupWindow is how close in time (ms) an event must be to an entry like
// it to be counted in it.
const groupWindow = 60000

// Log is the ACL log: its most recent entries first.
type Log struct {
	entries []*Entry
	MaxLen  int
}

// Add records an event: counted in a recent entry like it among the ten
// newest (which becomes the newest), or as a new entry, dropping the
// oldest past MaxLen.
func (l *Log) Add(e Entry) {
	for i := 0; i < len(l.entries) && i < 10; i++ {
		m := l.entries[i]
		d := m.Time - e.Time
		if d < 0 {
			d = -d
		}
		if m.Reason == e.Reason && m.Context == e.Context && d <= groupWindow &&
			m.Object == e.Object && m.Username == e.Username {
			m.Client, m.Time = e.Client, e.Time
			m.Count++
			copy(l.entries[1:i+1], l.entries[:i])
			l.entries[0] = m
			return
		}
	}
	e.Count = 1
	l.entries = append([]*Entry{&e}, l.entries...)
	l.Trim()
}

// Trim drops the oldest entries past MaxLen.
func (l *Log) Trim() {
	if len(l.entries) > l.MaxLen {
		clear(l.entries[l.MaxLen:])
		l.entries = l.entries[:l.MaxLen]
	}
}

// Entries returns the newest n entries (all when n is larger).
func (l *Log) Entries(n int) []*Entry {
	return l.entries[:min(n, len(l.entries))]
}

// Reset empties the log.
func (l *Log) Reset() { l.entries = nil }
