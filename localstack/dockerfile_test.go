package localstack_test

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// root is the repository's root directory.
const root = ".."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN...
	args string
	line int
}

// parseDockerfile splits a Dockerfile into instructions (comments and
// parser directives dropped, backslash continuations joined).
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: the last instruction ends in a continuation", path)
	}
	return out
}

// stages groups instructions by build stage (the ARGs before the first
// FROM are left out).
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

// goBuild returns the go build command of the Dockerfile's RUN
// instruction, without the RUN flags (--mount=...).
func goBuild(t *testing.T, ins []instruction) string {
	t.Helper()
	var found []string
	for _, in := range ins {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		fields := strings.Fields(in.args)
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fields = fields[1:]
		}
		found = append(found, strings.Join(fields, " "))
	}
	if len(found) != 1 {
		t.Fatalf("want one RUN with go build, found %d: %q", len(found), found)
	}
	return found[0]
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildOut  []byte
)

// dockerBuild runs the Dockerfile's go build command on this machine,
// exactly as written (through sh, with the build arguments VERSION,
// TARGETOS and TARGETARCH set), writing to a temporary directory instead
// of /out. The binary is shared by the tests of this package, as the
// image's ferry.
func dockerBuild(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		cmdline := goBuild(t, parseDockerfile(t, filepath.Join(root, "Dockerfile")))
		dir, err := os.MkdirTemp("", "ferry-docker-build-")
		if err != nil {
			buildErr = err
			return
		}
		if !strings.Contains(cmdline, "-o /out/ferry ") {
			buildErr = fmt.Errorf("the build command does not write /out/ferry: %s", cmdline)
			return
		}
		cmdline = strings.Replace(cmdline, "-o /out/ferry ", "-o "+dir+"/ferry ", 1)
		cmd := exec.Command("sh", "-c", cmdline)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "VERSION=v0.0.0-dockertest", "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH)
		buildOut, buildErr = cmd.CombinedOutput()
		buildBin = filepath.Join(dir, "ferry")
	})
	if buildErr != nil {
		t.Fatalf("the Dockerfile's go build: %v\n%s", buildErr, buildOut)
	}
	return buildBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildBin != "" {
		os.RemoveAll(filepath.Dir(buildBin))
	}
	os.Exit(code)
}

// TestDockerfile checks the image recipe: a builder stage compiling a
// static ferry (CGO off, trimmed paths, stripped, versioned), a minimal
// final stage running it as a non-root user, the ports, and that the exact
// go build command works here and gives a static binary that knows its
// version.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	st := stages(ins)
	if len(st) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(st))
	}
	builder, final := st[0], st[len(st)-1]
	if !regexp.MustCompile(`^(--platform=\S+ )?golang:\$\{GO_VERSION\} AS build$`).MatchString(builder[0].args) {
		t.Errorf("builder stage: FROM %s, want golang:${GO_VERSION} AS build", builder[0].args)
	}
	if !slices.ContainsFunc(ins, func(in instruction) bool { return in.cmd == "ARG" && in.args == "GO_VERSION=1.26" }) {
		t.Errorf("want ARG GO_VERSION=1.26 (go.mod's Go)")
	}
	base := strings.Fields(final[0].args)[0]
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s: want scratch or distroless static", base)
	}
	var user, entry string
	var expose []string
	var copies []string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "EXPOSE":
			expose = append(expose, strings.Fields(in.args)...)
		case "COPY":
			copies = append(copies, in.args)
		case "RUN":
			t.Errorf("line %d: the final stage runs a command (it has no shell): RUN %s", in.line, in.args)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "root" || uid == "0" {
		t.Errorf("final stage USER %q: want a non-root user", user)
	}
	if entry != `["/ferry"]` {
		t.Errorf(`ENTRYPOINT %s, want ["/ferry"]`, entry)
	}
	for _, p := range []string{"6379", "8080", "9090"} {
		if !slices.Contains(expose, p) {
			t.Errorf("EXPOSE %v lacks %s", expose, p)
		}
	}
	if !slices.Contains(copies, "--from=build /out/ferry /ferry") {
		t.Errorf("final stage COPY %q: want --from=build /out/ferry /ferry", copies)
	}

	cmdline := goBuild(t, ins)
	for _, want := range []string{"CGO_ENABLED=0 ", " go build ", " -trimpath ", `-ldflags "-s -w -X main.version=${VERSION}"`, " ./cmd/ferry"} {
		if !strings.Contains(" "+cmdline+" ", want) {
			t.Errorf("build command %q lacks %q", cmdline, want)
		}
	}

	bin := dockerBuild(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ferry v0.0.0-dockertest" {
		t.Errorf("ferry version = %q, %v; want ferry v0.0.0-dockertest", out, err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (program header %v)", p.Type)
		}
	}
	if s := f.Section(".symtab"); s != nil {
		t.Errorf("the binary has a symbol table: -s did not strip it")
	}
}

// TestDockerignore: the build context keeps every file the build needs
// (the module's Go files, go.mod, go.sum) and leaves out the rest named.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []*regexp.Regexp
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are not modelled by this test", line)
		}
		patterns = append(patterns, ignoreRegexp(line))
	}
	ignored := func(p string) bool {
		return slices.ContainsFunc(patterns, func(re *regexp.Regexp) bool { return re.MatchString(p) })
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "*.go", "go.mod", "go.sum").Output()
	if err != nil {
		t.Fatal(err)
	}
	files := strings.Fields(string(out))
	if len(files) < 10 {
		t.Fatalf("git ls-files found %d files", len(files))
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		if ignored(f) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", f)
		}
	}
	for _, f := range []string{".git/HEAD", "ferry", "ferry-data/nats", "rdb.test", "snapshot/rdb/rdb.test", "localstack/.state/logs/x", "infra/examples/basic/.terraform/x"} {
		if !ignored(f) {
			t.Errorf(".dockerignore keeps %s", f)
		}
	}
}

// ignoreRegexp turns a .dockerignore pattern into a regular expression
// matching a path and everything under it: Go's filepath.Match syntax plus
// "**" for any number of directories, anchored at the context's root.
func ignoreRegexp(p string) *regexp.Regexp {
	p = strings.TrimPrefix(filepath.Clean(p), "/")
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case strings.HasPrefix(p[i:], "**/"):
			re.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("(/.*)?$")
	return regexp.MustCompile(re.String())
}
