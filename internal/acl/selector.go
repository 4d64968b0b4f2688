package acl

import (
	"slices"
	"strings"
)

// Perm is the access a key pattern grants.
type Perm uint8

// Key permissions.
const (
	Read  Perm = 1 << iota // %R~
	Write                  // %W~
	// ReadWrite is ~pattern's (and %RW~'s) access.
	ReadWrite = Read | Write
)

// KeyPattern is a glob pattern of keys with the access it grants.
type KeyPattern struct {
	Pattern string
	Perm    Perm
}

// String renders the pattern as a rule: ~p, %R~p or %W~p.
func (k KeyPattern) String() string {
	switch k.Perm {
	case ReadWrite:
		return "~" + k.Pattern
	case Read:
		return "%R~" + k.Pattern
	case Write:
		return "%W~" + k.Pattern
	}
	return "%~" + k.Pattern // Redis cannot describe it (it panics)
}

// bitmap holds one bit per command id.
type bitmap [maxCommands / 64]uint64

func (b *bitmap) get(id int) bool { return b[id/64]&(1<<(id%64)) != 0 }

func (b *bitmap) set(id int, v bool) {
	if v {
		b[id/64] |= 1 << (id % 64)
	} else {
		b[id/64] &^= 1 << (id % 64)
	}
}

// Selector is a set of permissions: commands, keys and channels. A user
// has a root selector and may have more, in parentheses; a command is
// allowed when one selector allows it whole.
type Selector struct {
	root        bool
	allKeys     bool
	allChannels bool
	allCommands bool
	cmds        bitmap
	// firstArgs lists, by command id, the first arguments allowed for a
	// command whose bit is not set (+select|0).
	firstArgs map[int][]string
	keys      []KeyPattern
	channels  []string
}

// clone returns a deep copy of s.
func (s *Selector) clone() *Selector {
	c := *s
	c.keys = slices.Clone(s.keys)
	c.channels = slices.Clone(s.channels)
	if s.firstArgs != nil {
		c.firstArgs = make(map[int][]string, len(s.firstArgs))
		for id, a := range s.firstArgs {
			c.firstArgs[id] = slices.Clone(a)
		}
	}
	return &c
}

// unrestricted reports whether s allows every command, key and channel.
func (s *Selector) unrestricted() bool { return s.allCommands && s.allKeys && s.allChannels }

// setBit sets one command's bit; clearing one clears allcommands.
func (s *Selector) setBit(id int, v bool) {
	s.cmds.set(id, v)
	if !v {
		s.allCommands = false
	}
}

// changePerm allows or denies a command and its subcommands, forgetting
// its allowed first arguments.
func (s *Selector) changePerm(cmd *Cmd, allow bool) {
	s.setBit(cmd.ID, allow)
	delete(s.firstArgs, cmd.ID)
	for _, sub := range cmd.subs {
		s.setBit(sub.ID, allow)
	}
}

// setCategory allows or denies every command of a category, walking the
// commands as Redis does: a container in the category changes all its
// subcommands, then each subcommand in the category changes.
func (s *Selector) setCategory(cat *Catalog, c Category, allow bool) {
	var walk func(cmds []*Cmd)
	walk = func(cmds []*Cmd) {
		for _, cmd := range cmds {
			if cmd.Categories&c != 0 {
				s.changePerm(cmd, allow)
			}
			walk(cmd.subs)
		}
	}
	walk(cat.top)
}

// countCategory counts the commands of a category that s allows (on)
// and denies (off).
func (s *Selector) countCategory(cat *Catalog, c Category) (on, off int) {
	for _, cmd := range cat.all {
		if cmd.Categories&c == 0 {
			continue
		}
		if s.cmds.get(cmd.ID) {
			on++
		} else {
			off++
		}
	}
	return on, off
}

func (s *Selector) addFirstArg(id int, arg string) {
	if s.firstArgs == nil {
		s.firstArgs = make(map[int][]string)
	}
	for _, a := range s.firstArgs[id] {
		if strings.EqualFold(a, arg) {
			return
		}
	}
	s.firstArgs[id] = append(s.firstArgs[id], arg)
}

// ruleError is why a rule was refused, as Redis's errno values say.
type ruleError int

const (
	errSyntax        ruleError = iota + 1 // EINVAL
	errUnknown                            // ENOENT
	errKeysAfterAll                       // EEXIST
	errChansAfterAll                      // EISDIR
	errNoSuchPass                         // ENODEV
	errBadHash                            // EBADMSG
	errFirstArgSub                        // ECHILD
)

// Error returns Redis's wording (ACLSetUserStringError).
func (e ruleError) Error() string {
	switch e {
	case errSyntax:
		return "Syntax error"
	case errUnknown:
		return "Unknown command or category name in ACL"
	case errKeysAfterAll:
		return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
	case errChansAfterAll:
		return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
	case errNoSuchPass:
		return "The password you are trying to remove from the user does not exist"
	case errBadHash:
		return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
	case errFirstArgSub:
		return "Allowing first-arg of a subcommand is not supported"
	}
	return "Wrong format"
}

// hasSpaces reports whether s has a C isspace character or a NUL.
func hasSpaces(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\v', '\f', '\r', 0:
			return true
		}
	}
	return false
}

// apply applies one selector rule (ACLSetSelector).
func (s *Selector) apply(cat *Catalog, op string) error {
	switch {
	case strings.EqualFold(op, "allkeys") || op == "~*":
		s.allKeys, s.keys = true, nil
	case strings.EqualFold(op, "resetkeys"):
		s.allKeys, s.keys = false, nil
	case strings.EqualFold(op, "allchannels") || op == "&*":
		s.allChannels, s.channels = true, nil
	case strings.EqualFold(op, "resetchannels"):
		s.allChannels, s.channels = false, nil
	case strings.EqualFold(op, "allcommands") || strings.EqualFold(op, "+@all"):
		for i := range s.cmds {
			s.cmds[i] = ^uint64(0)
		}
		s.allCommands, s.firstArgs = true, nil
	case strings.EqualFold(op, "nocommands") || strings.EqualFold(op, "-@all"):
		s.cmds = bitmap{}
		s.allCommands, s.firstArgs = false, nil
	case op[0] == '~' || op[0] == '%':
		return s.addKeyPattern(op)
	case op[0] == '&':
		if s.allChannels {
			return errChansAfterAll
		}
		if hasSpaces(op[1:]) {
			return errSyntax
		}
		if !slices.Contains(s.channels, op[1:]) {
			s.channels = append(s.channels, op[1:])
		}
		s.allChannels = false
	case op[0] == '+' && (len(op) < 2 || op[1] != '@'):
		return s.allowCommand(cat, op[1:])
	case op[0] == '-' && (len(op) < 2 || op[1] != '@'):
		cmd := cat.Lookup(op[1:])
		if cmd == nil {
			return errUnknown
		}
		s.changePerm(cmd, false)
	case op[0] == '+' || op[0] == '-':
		c := CategoryByName(op[2:])
		if c == 0 {
			return errUnknown
		}
		s.setCategory(cat, c, op[0] == '+')
	default:
		return errSyntax
	}
	return nil
}

// addKeyPattern applies ~pattern or %<R|W>~pattern.
func (s *Selector) addKeyPattern(op string) error {
	if s.allKeys {
		return errKeysAfterAll
	}
	perm, off := ReadWrite, 1
	if op[0] == '%' {
		perm = 0
		for ; off < len(op); off++ {
			c := op[off]
			switch {
			case (c == 'R' || c == 'r') && perm&Read == 0:
				perm |= Read
			case (c == 'W' || c == 'w') && perm&Write == 0:
				perm |= Write
			case c == '~':
				off++
				goto done
			default:
				return errSyntax
			}
		}
	}
done:
	if perm == 0 {
		return errSyntax // %~pattern, or % alone
	}
	pat := op[min(off, len(op)):]
	if hasSpaces(pat) {
		return errSyntax
	}
	for i := range s.keys {
		if s.keys[i].Pattern == pat {
			s.keys[i].Perm |= perm
			s.allKeys = false
			return nil
		}
	}
	s.keys = append(s.keys, KeyPattern{Pattern: pat, Perm: perm})
	s.allKeys = false
	return nil
}

// allowCommand applies +command, +container|sub and +command|firstarg.
func (s *Selector) allowCommand(cat *Catalog, name string) error {
	i := strings.LastIndexByte(name, '|')
	if i < 0 {
		cmd := cat.Lookup(name)
		if cmd == nil {
			return errUnknown
		}
		s.changePerm(cmd, true)
		return nil
	}
	cmd := cat.Lookup(name[:i])
	switch {
	case cmd == nil:
		return errUnknown
	case cmd.Parent != nil:
		return errFirstArgSub
	case i == len(name)-1:
		return errSyntax
	case cmd.byName != nil:
		sub := cat.Lookup(name)
		if sub == nil {
			return errUnknown
		}
		s.changePerm(sub, true)
	default:
		s.addFirstArg(cmd.ID, name[i+1:])
	}
	return nil
}
