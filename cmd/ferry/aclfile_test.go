package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// TestACLFileFlag: --aclfile loads the node's users before it serves; a
// file that cannot be loaded stops the command with Redis's reason.
func TestACLFileFlag(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.acl")
	err := runMaster([]string{"--addr", "127.0.0.1:0", "--log-level", "error", "--aclfile", missing})
	if err == nil || !strings.Contains(err.Error(), "--aclfile: Error loading ACLs, opening file '"+missing+"': No such file or directory") {
		t.Fatalf("ferry master --aclfile missing: %v", err)
	}
	good := filepath.Join(dir, "users.acl")
	if err := os.WriteFile(good, []byte("user default on nopass ~* &* +@all\nuser app on nopass ~app:* +@read\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := command.New(command.Config{})
	if err := loadACLFile(e, good); err != nil {
		t.Fatal(err)
	}
	if err := loadACLFile(e, ""); err != nil {
		t.Fatalf("no --aclfile: %v", err)
	}
	if got := command.New(command.Config{ACLFile: good}).Config().ACLFile; got != good {
		t.Errorf("Config.ACLFile %q", got)
	}
}
