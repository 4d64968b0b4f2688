package acl

import "strings"

// CommandRules describes the selector's commands as rules that rebuild
// them, as Redis 7.0 does: +@all or -@all, then the categories that fit
// best, then single commands (sorted by name here: Redis's order is its
// hash table's, which changes from run to run), then allowed first
// arguments.
func (s *Selector) CommandRules(cat *Catalog) string {
	var b strings.Builder
	fake := &Selector{}
	additive := !s.cmds.get(futureBit)
	if additive {
		b.WriteString("-@all ")
	} else {
		b.WriteString("+@all ")
		fake.apply(cat, "+@all")
	}
	temp := &Selector{cmds: s.cmds}
	applied := make([]bool, len(CategoryNames))
	for {
		best, minDiff, maxSame := -1, int(^uint(0)>>1), 0
		for j := range CategoryNames {
			if applied[j] {
				continue
			}
			on, off := temp.countCategory(cat, 1<<j)
			diff, same := on, off
			if additive {
				diff, same = off, on
			}
			if same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)) {
				best, minDiff, maxSame = j, diff, same
			}
		}
		if best < 0 {
			break
		}
		c := Category(1) << best
		fake.setCategory(cat, c, additive)
		temp.setCategory(cat, c, !additive)
		if additive {
			b.WriteString("+@")
		} else {
			b.WriteString("-@")
		}
		b.WriteString(CategoryNames[best])
		b.WriteByte(' ')
		applied[best] = true
	}
	s.singleCommands(&b, fake, cat.top)
	return strings.TrimSuffix(b.String(), " ")
}

// singleCommands writes the rules for the commands whose bit differs
// between s and fake (what the rules so far give), fixing fake as it goes.
func (s *Selector) singleCommands(b *strings.Builder, fake *Selector, cmds []*Cmd) {
	for _, cmd := range cmds {
		bit := s.cmds.get(cmd.ID)
		if bit != fake.cmds.get(cmd.ID) {
			if bit {
				b.WriteByte('+')
			} else {
				b.WriteByte('-')
			}
			b.WriteString(cmd.Name)
			b.WriteByte(' ')
			fake.changePerm(cmd, bit)
		}
		s.singleCommands(b, fake, cmd.subs)
		if !bit {
			for _, a := range s.firstArgs[cmd.ID] {
				b.WriteString("+" + cmd.Name + "|" + a + " ")
			}
		}
	}
}

// KeyRules describes the selector's key patterns, space separated, as
// ACL GETUSER shows them ("~*" for allkeys).
func (s *Selector) KeyRules() string {
	if s.allKeys {
		return "~*"
	}
	parts := make([]string, len(s.keys))
	for i, k := range s.keys {
		parts[i] = k.String()
	}
	return strings.Join(parts, " ")
}

// ChannelRules describes the selector's channel patterns as ACL GETUSER
// shows them ("&*" for allchannels).
func (s *Selector) ChannelRules() string {
	if s.allChannels {
		return "&*"
	}
	parts := make([]string, len(s.channels))
	for i, c := range s.channels {
		parts[i] = "&" + c
	}
	return strings.Join(parts, " ")
}

// describe is the selector in ACL LIST's form: keys, channels, commands.
func (s *Selector) describe(cat *Catalog) string {
	var b strings.Builder
	if s.allKeys {
		b.WriteString("~* ")
	} else {
		for _, k := range s.keys {
			b.WriteString(k.String() + " ")
		}
	}
	if s.allChannels {
		b.WriteString("&* ")
	} else {
		b.WriteString("resetchannels ")
		for _, c := range s.channels {
			b.WriteString("&" + c + " ")
		}
	}
	b.WriteString(s.CommandRules(cat))
	return b.String()
}

// Flags lists the user's flags in Redis's order: on or off, nopass,
// skip-sanitize-payload or sanitize-payload.
func (u *User) Flags() []string {
	var f []string
	if u.enabled {
		f = append(f, "on")
	} else {
		f = append(f, "off")
	}
	if u.nopass {
		f = append(f, "nopass")
	}
	switch u.sanitize {
	case sanitizeSkip:
		f = append(f, "skip-sanitize-payload")
	case sanitizeOn:
		f = append(f, "sanitize-payload")
	}
	return f
}

// Passwords returns the password hashes.
func (u *User) Passwords() []string { return u.passwords }

// Root returns the root selector.
func (u *User) Root() *Selector { return u.selectors[0] }

// Selectors returns the selectors in parentheses, in order.
func (u *User) Selectors() []*Selector { return u.selectors[1:] }

// Describe is the user's rules as ACL LIST and the ACL file show them
// (without "user <name> ").
func (u *User) Describe(cat *Catalog) string {
	if u.desc != "" {
		return u.desc
	}
	var b strings.Builder
	for _, f := range u.Flags() {
		b.WriteString(f + " ")
	}
	for _, p := range u.passwords {
		b.WriteString("#" + p + " ")
	}
	for i, s := range u.selectors {
		if i == 0 {
			b.WriteString(s.describe(cat))
		} else {
			b.WriteString(" (" + s.describe(cat) + ")")
		}
	}
	u.desc = b.String()
	return u.desc
}
