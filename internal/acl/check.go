package acl

import (
	"strings"

	"github.com/ferrydb/ferry/internal/glob"
)

// Result is the outcome of a permission check. Its order is Redis's: when
// no selector allows a command, the largest result is reported.
type Result int

// Check results.
const (
	OK            Result = iota
	DeniedCommand        // the command or subcommand
	DeniedKey            // one of the keys
	DeniedAuth           // a failed AUTH (for the log)
	DeniedChannel        // one of the channels
)

// Key is a key argument of a command line and the access the command
// needs to it.
type Key struct {
	Pos  int
	Perm Perm // 0: any pattern grants it
}

// Channel is a channel argument of a command that publishes or
// subscribes.
type Channel struct {
	Pos     int
	Pattern bool // PSUBSCRIBE's: matched literally against the rules
}

// Request is what the checks need of a command line. Keys and Channels
// are called at most once, and only when a selector restricts them.
type Request struct {
	Cmd      *Cmd
	Args     [][]byte // the whole command line, the name first
	HasKeys  bool
	Keys     func() []Key
	Channels func() []Channel
	keys     []Key
	keysDone bool
}

func (r *Request) getKeys() []Key {
	if !r.keysDone {
		r.keys, r.keysDone = r.Keys(), true
	}
	return r.keys
}

// Check reports whether u may run the request, and when it may not, the
// position of the key or channel refused (ACLCheckAllUserCommandPerm).
func (u *User) Check(r *Request) (Result, int) {
	if u.all {
		return OK, 0
	}
	worst, pos := DeniedCommand, 0
	for _, s := range u.selectors {
		res, p := s.check(r)
		if res == OK {
			return OK, 0
		}
		if res > worst || (res == worst && p > pos) {
			worst, pos = res, p
		}
	}
	return worst, pos
}

// check is one selector's verdict (ACLSelectorCheckCmd).
func (s *Selector) check(r *Request) (Result, int) {
	cmd := r.Cmd
	if !s.allCommands && !cmd.NoAuth && !s.cmds.get(cmd.ID) {
		if !s.firstArgAllowed(r) {
			return DeniedCommand, 0
		}
	}
	if !s.allKeys && r.HasKeys {
		for _, k := range r.getKeys() {
			if !s.keyAllowed(string(r.Args[k.Pos]), k.Perm) {
				return DeniedKey, k.Pos
			}
		}
	}
	if !s.allChannels && r.Channels != nil {
		for _, c := range r.Channels() {
			if !channelAllowed(s.channels, string(r.Args[c.Pos]), c.Pattern) {
				return DeniedChannel, c.Pos
			}
		}
	}
	return OK, 0
}

// firstArgAllowed reports whether the request's first argument is one
// allowed for a command whose bit is not set.
func (s *Selector) firstArgAllowed(r *Request) bool {
	allowed := s.firstArgs[r.Cmd.ID]
	if len(r.Args) < 2 || len(allowed) == 0 {
		return false
	}
	idx := 1
	if r.Cmd.Parent != nil {
		idx = 2
	}
	if idx >= len(r.Args) {
		return false
	}
	arg := cString(string(r.Args[idx]))
	for _, a := range allowed {
		if strings.EqualFold(a, arg) {
			return true
		}
	}
	return false
}

// keyAllowed reports whether a pattern grants perm on key.
func (s *Selector) keyAllowed(key string, perm Perm) bool {
	for _, p := range s.keys {
		if p.Perm&perm == perm && glob.Match(p.Pattern, key) {
			return true
		}
	}
	return false
}

// channelAllowed checks a channel against a list of channel rules: a
// channel matches them as globs, a pattern (PSUBSCRIBE) only literally.
func channelAllowed(rules []string, ch string, pattern bool) bool {
	for _, r := range rules {
		if (pattern && r == ch) || (!pattern && glob.Match(r, ch)) {
			return true
		}
	}
	return false
}

// CheckWithAllKeys reports whether a selector of u allows the request
// and grants perm on every key (a ~* pattern with that access, or
// allkeys).
func (u *User) CheckWithAllKeys(r *Request, perm Perm) bool {
	for _, s := range u.selectors {
		if res, _ := s.check(r); res == OK && s.allKeysGranted(perm) {
			return true
		}
	}
	return false
}

// allKeysGranted reports whether the selector grants perm on every key.
func (s *Selector) allKeysGranted(perm Perm) bool {
	if s.allKeys {
		return true
	}
	for _, p := range s.keys {
		if p.Perm&perm == perm && p.Pattern == "*" {
			return true
		}
	}
	return false
}

// CheckKey reports whether some selector of u grants perm on key.
func (u *User) CheckKey(key string, perm Perm) bool {
	for _, s := range u.selectors {
		if s.allKeys || s.keyAllowed(key, perm) {
			return true
		}
	}
	return false
}

// CheckChannel reports whether some selector of u allows the channel (or
// the pattern, literally).
func (u *User) CheckChannel(ch string, pattern bool) bool {
	for _, s := range u.selectors {
		if s.allChannels || channelAllowed(s.channels, ch, pattern) {
			return true
		}
	}
	return false
}

// ChannelsRevoked reports whether u's Pub/Sub clients must be checked
// against its new channel rules after a change from before, as Redis 7.0's
// ACLKillPubsubClientsIfNeeded decides: not when a selector now allows
// every channel; otherwise whenever before allowed any channel. (Redis
// means to skip the check when the new channels are a superset of the old,
// but compares them by address, so that shortcut never applies.)
func (u *User) ChannelsRevoked(before *User) bool {
	for _, s := range u.selectors {
		if s.allChannels {
			return false
		}
	}
	for _, s := range before.selectors {
		if s.allChannels || len(s.channels) > 0 {
			return true
		}
	}
	return false
}

// AllowsSubscription reports whether u's channel rules allow a
// subscription (a pattern one when pattern), when ChannelsRevoked: all
// selectors' channel lists together, as Redis checks a Pub/Sub client.
func (u *User) AllowsSubscription(ch string, pattern bool) bool {
	for _, s := range u.selectors {
		if channelAllowed(s.channels, ch, pattern) {
			return true
		}
	}
	return false
}
