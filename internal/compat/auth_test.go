package compat

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// helloID matches the client id in a HELLO reply, which differs between
// the servers.
var helloID = regexp.MustCompile(`\$2\r\nid\r\n:[0-9]+\r\n`)

// sameHello is same for exchanges whose replies include HELLO maps: the
// client ids are masked before comparing.
func (p wirePair) sameHello(t *testing.T, chunks ...[]byte) {
	t.Helper()
	want := exchange(t, p.redis, chunks, idle, 0)
	quiet := idle
	if want.closed {
		quiet = closeWait
	}
	got := exchange(t, p.ferry, chunks, quiet, len(want.data))
	mask := func(b []byte) []byte { return helloID.ReplaceAll(b, []byte("$2\r\nid\r\n:ID\r\n")) }
	if !bytes.Equal(mask(got.data), mask(want.data)) || got.closed != want.closed {
		t.Errorf("sent %s\n ferry: %v\n redis: %v", showChunks(chunks), got, want)
	}
}

func TestAuthRequirePass(t *testing.T) {
	p := newWirePair(t, command.Config{RequirePass: "secret"}, "--requirepass", "secret")
	big := strings.Repeat("a", 16384)
	bigger := strings.Repeat("a", 16385)
	hello := func(args ...string) []byte { return cmd(append([]string{"HELLO"}, args...)...) }
	cases := []wireCase{
		one("noauth-ping", "PING\r\n"),
		one("noauth-various", "ECHO x\r\nSELECT 1\r\nGET k\r\nMULTI\r\nEXEC\r\nSUBSCRIBE ch\r\nCLIENT ID\r\nDBSIZE\r\n"),
		one("unknown-before-noauth", "NOSUCH x\r\n"),
		one("arity-before-noauth", "GET\r\nECHO a b\r\n"),
		one("subcommand-before-noauth", "CLIENT NOSUCH\r\n"),
		one("quit", "QUIT\r\nPING\r\n"),
		one("reset", "RESET\r\nPING\r\n"),
		one("auth-wrong", "AUTH wrong\r\nPING\r\n"),
		one("auth-ok", "AUTH secret\r\nPING\r\n"),
		one("auth-user-ok", "AUTH default secret\r\nPING\r\n"),
		one("auth-user-wrong", "AUTH nobody secret\r\nAUTH Default secret\r\nPING\r\n"),
		one("auth-arity", "AUTH\r\nAUTH a b c\r\n"),
		one("acl-noauth", "ACL WHOAMI\r\nACL LIST\r\nACL CAT\r\nMODULE LIST\r\n"),
		one("acl-with-password", "AUTH secret\r\nACL WHOAMI\r\nACL LIST\r\nACL GETUSER default\r\nACL USERS\r\nACL DRYRUN default get a\r\n"),
		one("auth-then-wrong-keeps", "AUTH secret\r\nAUTH wrong\r\nPING\r\n"),
		one("reset-deauths", "AUTH secret\r\nPING\r\nRESET\r\nPING\r\n"),
		one("hello-noauth", "HELLO\r\nHELLO 3\r\nHELLO 2\r\nPING\r\n"),
		one("hello-errors-noauth", "HELLO 4\r\nHELLO x\r\nHELLO 3 FOO\r\nHELLO 3 AUTH default\r\n"),
		one("hello-auth-wrong", "HELLO 3 AUTH default wrong\r\nPING\r\n"),
		one("hello-auth-nobody", "HELLO 3 AUTH nobody secret\r\nPING\r\n"),
		{"hello-auth-ok", [][]byte{cat(hello("3", "AUTH", "default", "secret"), cmd("PING"), cmd("GET", "missing"))}},
		{"hello-auth-then-bad-option", [][]byte{cat(hello("3", "AUTH", "default", "secret", "BAD"), cmd("PING"), cmd("GET", "missing"))}},
		{"hello-setname-noauth", [][]byte{cat(hello("2", "SETNAME", "early"), cmd("AUTH", "secret"), cmd("CLIENT", "GETNAME"))}},
		{"hello-setname-wrongpass", [][]byte{cat(hello("2", "SETNAME", "n1", "AUTH", "default", "bad"), cmd("AUTH", "secret"), cmd("CLIENT", "GETNAME"))}},
		{"hello-auth-setname", [][]byte{cat(hello("2", "AUTH", "default", "secret", "SETNAME", "n2"), cmd("CLIENT", "GETNAME"))}},
		{"hello-reset", [][]byte{cat(hello("3", "AUTH", "default", "secret"), cmd("RESET"), cmd("PING"), hello("3"))}},
		one("unauth-mbulk-10", "*10\r\n$4\r\nPING\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n"),
		one("unauth-mbulk-11", "*11\r\n"),
		one("unauth-mbulk-after-ping", "PING\r\n*11\r\n$4\r\nPING\r\n"),
		one("unauth-negative", "*-1\r\n*-20\r\nPING\r\n"),
		{"unauth-bulk-16384", [][]byte{cmd("ECHO", big)}},
		{"unauth-bulk-name-16384", [][]byte{cmd(big)}},
		{"unauth-bulk-16385", [][]byte{cmd("ECHO", bigger)}},
		{"unauth-bulk-16385-header", [][]byte{b("*2\r\n$4\r\nECHO\r\n$16385\r\n")}},
		{"unauth-inline-big", [][]byte{b("ECHO " + bigger + "\r\n")}},
		{"auth-then-mbulk-11", [][]byte{cat(cmd("AUTH", "secret"), b("*11\r\n$4\r\nPING\r\n"), bytes.Repeat(b("$1\r\na\r\n"), 10))}},
		{"auth-then-big-bulk", [][]byte{cat(cmd("AUTH", "secret"), cmd("ECHO", bigger))}},
		{"wrong-auth-then-mbulk-11", [][]byte{cat(cmd("AUTH", "nope"), b("*11\r\n"))}},
		{"auth-in-second-write", [][]byte{cmd("AUTH", "secret"), cmd("ECHO", bigger)}},
		{"partial-before-auth", [][]byte{cat(cmd("AUTH", "secret"), b("*2\r\n$4\r\nECHO\r\n$1")), b("\r\nx\r\n")}},
		{"auth-in-multi", [][]byte{cat(cmd("AUTH", "secret"), cmd("MULTI"), cmd("AUTH", "wrong"), cmd("AUTH", "secret"), cmd("PING"), cmd("EXEC"))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p.sameHello(t, c.chunks...)
		})
	}
}

// TestAuthNoPassword covers AUTH and HELLO AUTH when no password is set:
// the default user takes any password.
func TestAuthNoPassword(t *testing.T) {
	p := newWirePair(t, command.Config{})
	hello := func(args ...string) []byte { return cmd(append([]string{"HELLO"}, args...)...) }
	cases := []wireCase{
		one("auth-password-only", "AUTH x\r\n"),
		one("auth-default", "AUTH default whatever\r\nAUTH nobody x\r\n"),
		{"hello-auth-any", [][]byte{cat(hello("3", "AUTH", "default", "whatever"), cmd("PING"))}},
		{"hello-auth-nobody", [][]byte{cat(hello("3", "AUTH", "nobody", "x"), cmd("PING"))}},
		{"hello-versions", [][]byte{cat(hello(), hello("3"), hello(), cmd("PING"), hello("2"), hello())}},
		{"hello-setname", [][]byte{cat(hello("3", "SETNAME", "abc"), cmd("CLIENT", "GETNAME"), hello("3", "SETNAME", ""), cmd("CLIENT", "GETNAME"))}},
		{"hello-options-case", [][]byte{cat(hello("2", "auth", "default", "x", "setname", "lc"), cmd("CLIENT", "GETNAME"))}},
		{"hello-in-multi", [][]byte{cat(cmd("MULTI"), hello("3"), cmd("PING"), cmd("EXEC"), cmd("PING"))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p.sameHello(t, c.chunks...)
		})
	}
}
