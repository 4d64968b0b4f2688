package acl

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Users is the set of users of a server, with its default user.
type Users struct {
	cat    *Catalog
	byName map[string]*User
	deflt  *User
	// PubsubAll is acl-pubsub-default allchannels: new users and
	// selectors, and reset, allow every channel (Redis 7.0's default,
	// resetchannels, allows none).
	PubsubAll bool
}

// NewUsers returns the users of a fresh server: only default, on, with
// nopass and every permission.
func NewUsers(cat *Catalog) *Users {
	us := &Users{cat: cat, byName: make(map[string]*User)}
	us.deflt = us.newDefault()
	us.byName["default"] = us.deflt
	return us
}

// newDefault returns a user named default as Redis creates it.
func (us *Users) newDefault() *User {
	u := us.newUser("default")
	for _, r := range []string{"+@all", "~*", "&*", "on", "nopass"} {
		u.apply(us, r)
	}
	u.changed()
	return u
}

// Catalog returns the commands the rules name.
func (us *Users) Catalog() *Catalog { return us.cat }

// Default returns the default user.
func (us *Users) Default() *User { return us.deflt }

// Get returns the user named name, or nil.
func (us *Users) Get(name string) *User { return us.byName[name] }

// Names returns the user names in order (ACL USERS).
func (us *Users) Names() []string {
	names := make([]string, 0, len(us.byName))
	for n := range us.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// AuthRequired reports whether a connection that has not authenticated
// must: the default user has a password or is off.
func (us *Users) AuthRequired() bool { return !us.deflt.nopass || !us.deflt.enabled }

// Authenticate returns the user that name and pass authenticate as, or
// nil.
func (us *Users) Authenticate(name, pass string) *User {
	u := us.byName[name]
	if u == nil || !u.CheckPassword(pass) {
		return nil
	}
	return u
}

// SetUser applies ACL SETUSER's rules to the user named name, creating it
// if needed: all of them, or none when one is refused. It returns the user
// and the user as it was before (nil for a new one), or Redis's error text
// (without "ERR ").
func (us *Users) SetUser(name string, ops []string) (u, before *User, msg string) {
	merged, open := mergeSelectors(ops)
	if open >= 0 {
		return nil, nil, fmt.Sprintf("Unmatched parenthesis in acl selector starting at '%s'.", cString(ops[open]))
	}
	temp := us.newUser(name)
	u = us.byName[name]
	if u != nil {
		temp.copyFrom(u)
	}
	for _, op := range merged {
		if err := temp.apply(us, op); err != nil {
			return nil, nil, setUserError(op, err)
		}
	}
	temp.changed()
	if u == nil {
		u = us.newUser(name)
		us.byName[name] = u
	} else {
		before = &User{name: u.name}
		before.copyFrom(u)
	}
	u.copyFrom(temp)
	return u, before, ""
}

// SetDefaultPassword makes pass default's only password, or gives it
// nopass when pass is empty (requirepass).
func (us *Users) SetDefaultPassword(pass string) {
	u := us.deflt
	u.apply(us, "resetpass")
	if pass == "" {
		u.apply(us, "nopass")
	} else {
		u.apply(us, ">"+pass)
	}
	u.changed()
}

// Delete removes the named users, which must not include default, and
// returns those that existed.
func (us *Users) Delete(names []string) []*User {
	var out []*User
	for _, n := range names {
		if u := us.byName[n]; u != nil && u != us.deflt {
			delete(us.byName, n)
			out = append(out, u)
		}
	}
	return out
}

// List describes every user as ACL LIST does, in name order.
func (us *Users) List() []string {
	names := us.Names()
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "user " + n + " " + us.byName[n].Describe(us.cat)
	}
	return out
}

// Save writes every user to path in the ACL file's format, through a
// temporary file renamed over it.
func (us *Users) Save(path string) error {
	var b strings.Builder
	for _, l := range us.List() {
		b.WriteString(l + "\n")
	}
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// ErrLoad is returned by Load with Redis's description of the problems
// found.
type ErrLoad struct{ Msg string }

func (e *ErrLoad) Error() string { return e.Msg }

// Load replaces the users with those of the ACL file at path, as ACL LOAD
// and a server's start do: all of them, or none when the file has an
// error. The default user keeps its identity (its connections stay), its
// rules replaced by the file's, or reset to a fresh default's when the
// file does not name it. It returns the users that were dropped: every
// user but default, since each is replaced by the file's.
func (us *Users) Load(path string) ([]*User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &ErrLoad{fmt.Sprintf("Error loading ACLs, opening file '%s': %s", path, strerror(err))}
	}
	users, msg := us.parseFile(path, string(data))
	if msg != "" {
		return nil, &ErrLoad{msg + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"}
	}
	var dropped []*User
	for n, u := range us.byName {
		if n != "default" {
			dropped = append(dropped, u)
		}
	}
	def := users["default"]
	if def == nil {
		def = us.newDefault()
	}
	us.deflt.copyFrom(def)
	users["default"] = us.deflt
	us.byName = users
	return dropped, nil
}

// parseFile reads an ACL file's users, or returns the errors found in
// Redis's wording.
func (us *Users) parseFile(path, data string) (map[string]*User, string) {
	users := make(map[string]*User)
	var errs strings.Builder
	for i, line := range strings.Split(data, "\n") {
		num := i + 1
		line = strings.Trim(line, " \t\r\n")
		if line == "" {
			continue
		}
		args := strings.Split(line, " ")
		if args[0] != "user" || len(args) < 2 {
			fmt.Fprintf(&errs, "%s:%d should start with user keyword followed by the username. ", path, num)
			continue
		}
		name := args[1]
		if hasSpaces(name) {
			fmt.Fprintf(&errs, "'%s:%d: username '%s' contains invalid characters. ", path, num, cString(name))
			continue
		}
		if users[name] != nil {
			fmt.Fprintf(&errs, "WARNING: Duplicate user '%s' found on line %d. ", cString(name), num)
			continue
		}
		u := us.newUser(name)
		users[name] = u
		merged, open := mergeSelectors(args[2:])
		if open >= 0 {
			fmt.Fprintf(&errs, "%s:%d: Unmatched parenthesis in selector definition.", path, num)
		}
		syntax := false
		for _, op := range merged {
			op = strings.Trim(op, "\t\r\n")
			err := u.apply(us, op)
			switch {
			case err == nil:
			case err == errUnknown:
				fmt.Fprintf(&errs, "%s:%d: Error in applying operation '%s': %s. ", path, num, cString(op), err)
			case !syntax:
				fmt.Fprintf(&errs, "%s:%d: %s. ", path, num, err)
				syntax = true
			}
		}
		u.changed()
	}
	return users, errs.String()
}

// strerror words the common file errors as C's strerror does.
func strerror(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, os.ErrPermission):
		return "Permission denied"
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}
