package command_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
)

// TestACLApplierBypasses: users are the node's own, and the replication
// log's applier runs everything whatever the default user may do, as
// Redis's master client does.
func TestACLApplierBypasses(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("127.0.0.1:1", "")
	e.Unlock()
	if r := exec(e, cl, "ACL", "SETUSER", "default", "resetkeys", "-@all", "+acl"); r != "+OK\r\n" {
		t.Fatal(r)
	}
	if r := exec(e, cl, "SET", "k", "v"); !strings.HasPrefix(r, "-NOPERM this user has no permissions to run the 'set' command") {
		t.Fatalf("SET as the restricted default user: %q", r)
	}
	ap := e.NewApplier()
	if err := ap.Apply(resp.AppendCommand(nil, []byte("SET"), []byte("k"), []byte("v"))); err != nil {
		t.Fatalf("the applier was refused: %v", err)
	}
	e.Lock()
	defer e.Unlock()
	if !e.Keyspace().DB(0).Exists("k") {
		t.Error("the applier's SET did not apply")
	}
}

// TestACLDefaultUserAllocatesNothing: the permission check of a user who
// may run everything is one flag test: running a command allocates no
// more than without ACL.
func TestACLDefaultUserAllocatesNothing(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("127.0.0.1:1", "")
	e.Unlock()
	exec(e, cl, "SET", "k", "v")
	args := [][]byte{[]byte("GET"), []byte("k")}
	allocs := testing.AllocsPerRun(200, func() {
		e.Lock()
		e.Exec(cl, args)
		e.Unlock()
		cl.W.Reset()
	})
	if allocs != 0 {
		t.Errorf("GET as the default user allocates %v times", allocs)
	}
}

// TestACLLoadFileAtStart: Config.ACLFile loads the users when the engine
// is made, and a bad file is reported by ACLLoadError.
func TestACLLoadFileAtStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.acl")
	os.WriteFile(path, []byte("user default on nopass ~* &* +@all\nuser ro on nopass ~* -@all +get\n"), 0o644)
	e := command.New(command.Config{ACLFile: path})
	if err := e.ACLLoadError(); err != nil {
		t.Fatal(err)
	}
	e.Lock()
	cl := e.NewClient("127.0.0.1:1", "")
	e.Unlock()
	if r := exec(e, cl, "ACL", "USERS"); r != "*2\r\n$7\r\ndefault\r\n$2\r\nro\r\n" {
		t.Errorf("ACL USERS: %q", r)
	}
	bad := filepath.Join(dir, "bad.acl")
	os.WriteFile(bad, []byte("nonsense\n"), 0o644)
	e2 := command.New(command.Config{ACLFile: bad})
	if err := e2.ACLLoadError(); err == nil || !strings.Contains(err.Error(), "should start with user keyword") {
		t.Errorf("ACLLoadError: %v", err)
	}
	if err := e2.LoadACLFile(path); err != nil {
		t.Errorf("LoadACLFile: %v", err)
	}
}
