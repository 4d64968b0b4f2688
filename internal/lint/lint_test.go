// Package lint holds tests that enforce the project's structure: the
// direction of imports between ferry's packages (../shared/DESIGN.md).
package lint

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ferrydb/ferry"

// forbidden maps a package directory prefix to the module packages it must
// not import. Imports point one way: cmd -> master/replica ->
// snapshot/stream -> internal.
var forbidden = map[string][]string{
	"internal/":   {"cmd/", "master", "replica", "snapshot", "stream", "downstream"},
	"snapshot":    {"cmd/", "master", "replica", "downstream"},
	"stream":      {"cmd/", "master", "replica", "downstream"},
	"downstream/": {"cmd/", "master", "replica"}, // serves Redis replicas for both
	"master":      {"cmd/", "replica"},
	"replica":     {"cmd/", "master"},
}

// blackBox lists test files exempt from forbidden: integration tests of a
// package that drive it through the packages above it. Each must be in an
// external test package (package x_test), which nothing imports and which
// is compiled only for its tests, so the rule's direction holds for all
// that ships.
var blackBox = map[string]bool{
	// The connection chaos clients (package server_test) against a real
	// master with --ack durable, checked against a replica of the log.
	"internal/server/loop_chaos_durable_test.go": true,
}

func TestImportDirection(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if name != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bench") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		if blackBox[rel] {
			if !strings.HasSuffix(f.Name.Name, "_test") {
				t.Errorf("%s is exempt from the import direction as a black-box test, but its package is %s, not an external test package", rel, f.Name.Name)
			}
			return nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			target := strings.TrimPrefix(p, module+"/")
			for from, bans := range forbidden {
				if !strings.HasPrefix(rel, from) {
					continue
				}
				for _, ban := range bans {
					if strings.HasPrefix(target, ban) {
						t.Errorf("%s imports %s: imports must point cmd -> master/replica -> snapshot/stream -> internal", rel, p)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go files found")
	}
}

func TestPackageComments(t *testing.T) {
	root, _ := filepath.Abs("../..")
	dirs := map[string]bool{}
	documented := map[string]bool{}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.Contains(path, "/.") || strings.Contains(path, "/testdata/") {
			return nil
		}
		dir := filepath.Dir(path)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return nil
		}
		if strings.HasSuffix(path, "_test.go") && f.Name.Name != filepath.Base(dir) {
			return nil
		}
		dirs[dir] = true
		if f.Doc != nil {
			documented[dir] = true
		}
		return nil
	})
	for dir := range dirs {
		if !documented[dir] {
			rel, _ := filepath.Rel(root, dir)
			t.Errorf("package in %s has no package comment", rel)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
}
