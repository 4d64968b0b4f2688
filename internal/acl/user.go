package acl

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/ferrydb/ferry/internal/resp"
)

// sanitize is a user's sanitize-payload setting: unset for a new user.
type sanitize uint8

const (
	sanitizeUnset sanitize = iota
	sanitizeOn             // sanitize-payload
	sanitizeSkip           // skip-sanitize-payload
)

// User is an ACL user. A User is changed in place (SetUser), so that the
// connections authenticated as it see its new permissions at once, as in
// Redis.
type User struct {
	name      string
	enabled   bool
	nopass    bool
	sanitize  sanitize
	passwords []string    // SHA-256 hashes in lowercase hex
	selectors []*Selector // the root selector first
	// all caches whether a selector allows everything: the fast path.
	all  bool
	desc string // cached description (ACL LIST), "" when stale
}

// newUser returns a user as ACL SETUSER creates it: off, no passwords, no
// permissions but, with acl-pubsub-default allchannels, every channel.
func (us *Users) newUser(name string) *User {
	return &User{name: name, selectors: []*Selector{{root: true, allChannels: us.PubsubAll}}}
}

// Name returns the user's name.
func (u *User) Name() string { return u.name }

// Enabled reports whether the user is on.
func (u *User) Enabled() bool { return u.enabled }

// NoPass reports whether any password authenticates the user.
func (u *User) NoPass() bool { return u.nopass }

// Unrestricted reports whether the user may run every command on every key
// and channel: the checks then need nothing of the command line.
func (u *User) Unrestricted() bool { return u.all }

// copyFrom makes u's rules those of src (its name stays).
func (u *User) copyFrom(src *User) {
	u.enabled, u.nopass, u.sanitize = src.enabled, src.nopass, src.sanitize
	u.passwords = slices.Clone(src.passwords)
	u.selectors = make([]*Selector, len(src.selectors))
	for i, s := range src.selectors {
		u.selectors[i] = s.clone()
	}
	u.changed()
}

// changed refreshes what is derived from the rules.
func (u *User) changed() {
	u.desc = ""
	u.all = false
	for _, s := range u.selectors {
		if s.unrestricted() {
			u.all = true
		}
	}
}

// HashPassword returns a password as ACL rules and descriptions show it:
// its SHA-256 in lowercase hex.
func HashPassword(p string) string {
	h := sha256.Sum256([]byte(p))
	return hex.EncodeToString(h[:])
}

// validHash reports whether h is 64 lowercase hex digits.
func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckPassword reports whether pass authenticates u: u is on, and has
// nopass or a password whose hash matches (compared in constant time).
func (u *User) CheckPassword(pass string) bool {
	if !u.enabled {
		return false
	}
	if u.nopass {
		return true
	}
	h := HashPassword(pass)
	ok := false
	for _, p := range u.passwords {
		if subtle.ConstantTimeCompare([]byte(h), []byte(p)) == 1 {
			ok = true
		}
	}
	return ok
}

// apply applies one rule (ACLSetUser); the caller refreshes u.
func (u *User) apply(us *Users, op string) error {
	if op == "" {
		return nil
	}
	switch {
	case strings.EqualFold(op, "on"):
		u.enabled = true
	case strings.EqualFold(op, "off"):
		u.enabled = false
	case strings.EqualFold(op, "skip-sanitize-payload"):
		u.sanitize = sanitizeSkip
	case strings.EqualFold(op, "sanitize-payload"):
		u.sanitize = sanitizeOn
	case strings.EqualFold(op, "nopass"):
		u.nopass, u.passwords = true, nil
	case strings.EqualFold(op, "resetpass"):
		u.nopass, u.passwords = false, nil
	case op[0] == '>' || op[0] == '#':
		h := op[1:]
		if op[0] == '>' {
			h = HashPassword(h)
		} else if !validHash(h) {
			return errBadHash
		}
		if !slices.Contains(u.passwords, h) {
			u.passwords = append(u.passwords, h)
		}
		u.nopass = false
	case op[0] == '<' || op[0] == '!':
		h := op[1:]
		if op[0] == '<' {
			h = HashPassword(h)
		} else if !validHash(h) {
			return errBadHash
		}
		i := slices.Index(u.passwords, h)
		if i < 0 {
			return errNoSuchPass
		}
		u.passwords = slices.Delete(u.passwords, i, i+1)
	case op[0] == '(' && op[len(op)-1] == ')':
		s := &Selector{allChannels: us.PubsubAll}
		// Redis splits a selector's rules with sdssplitargs, quotes and
		// all; a split that fails leaves the selector without rules.
		args, _ := resp.SplitArgs([]byte(op[1:len(op)-1]), nil)
		for _, a := range args {
			if err := s.apply(us.cat, string(a)); err != nil {
				return err
			}
		}
		u.selectors = append(u.selectors, s)
	case strings.EqualFold(op, "clearselectors"):
		u.selectors = u.selectors[:1]
	case strings.EqualFold(op, "reset"):
		for _, r := range []string{"resetpass", "resetkeys", "resetchannels", "allchannels", "off", "sanitize-payload", "clearselectors", "-@all"} {
			if r != "allchannels" || us.PubsubAll {
				u.apply(us, r)
			}
		}
	default:
		return u.selectors[0].apply(us.cat, op)
	}
	return nil
}

// mergeSelectors joins the rules of a selector spread over several
// arguments ("(~a", "+get)") into one, as Redis does. It returns the index
// of an unmatched opening parenthesis, or -1.
func mergeSelectors(ops []string) ([]string, int) {
	out := make([]string, 0, len(ops))
	open := -1
	var sel string
	for j, op := range ops {
		if len(op) > 0 && op[0] == '(' && op[len(op)-1] != ')' {
			sel, open = op, j
			continue
		}
		if open >= 0 {
			sel += " " + op
			if len(op) > 0 && op[len(op)-1] == ')' {
				out = append(out, sel)
				open = -1
			}
			continue
		}
		out = append(out, op)
	}
	if open >= 0 {
		return nil, open
	}
	return out, -1
}

// cString is s up to its first NUL, as C's %s prints it.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// setUserError is the text of a refused rule in ACL SETUSER.
func setUserError(op string, err error) string {
	return fmt.Sprintf("Error in ACL SETUSER modifier '%s': %s", cString(op), err)
}
