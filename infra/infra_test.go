package infra_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// module is one Terraform module: the .tf files of one directory.
type module struct {
	dir       string
	files     map[string]*hclsyntax.Body
	variables map[string]*hclsyntax.Block
	locals    map[string]bool
	localExpr map[string]hclsyntax.Expression
	outputs   map[string]*hclsyntax.Block
	resources map[string]*hclsyntax.Block // "type.name"
	data      map[string]*hclsyntax.Block // "type.name"
	modules   map[string]*hclsyntax.Block
	providers map[string]bool // required_providers' local names
}

// loadModule parses every .tf file of dir, failing the test for a file
// that does not parse or is not formatted as terraform fmt formats it.
func loadModule(t *testing.T, dir string) *module {
	t.Helper()
	m := &module{
		dir: dir, files: map[string]*hclsyntax.Body{}, variables: map[string]*hclsyntax.Block{},
		locals: map[string]bool{}, localExpr: map[string]hclsyntax.Expression{}, outputs: map[string]*hclsyntax.Block{}, resources: map[string]*hclsyntax.Block{},
		data: map[string]*hclsyntax.Block{}, modules: map[string]*hclsyntax.Block{}, providers: map[string]bool{},
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("%s: no .tf files", dir)
	}
	p := hclparse.NewParser()
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := p.ParseHCL(src, path)
		if diags.HasErrors() {
			t.Errorf("%s: %s", path, diags.Error())
			continue
		}
		if formatted := hclwrite.Format(src); !bytes.Equal(formatted, src) {
			t.Errorf("%s is not formatted (terraform fmt):\n%s", path, firstDiff(src, formatted))
		}
		body := f.Body.(*hclsyntax.Body)
		m.files[path] = body
		for _, b := range body.Blocks {
			m.declare(t, path, b)
		}
	}
	return m
}

// firstDiff shows the first line where a and b differ.
func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  have %q\n  want %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(al), len(bl))
}

func (m *module) declare(t *testing.T, path string, b *hclsyntax.Block) {
	t.Helper()
	dup := func(kind, name string, seen bool) {
		if seen {
			t.Errorf("%s: %s %s declared twice", path, kind, name)
		}
	}
	switch b.Type {
	case "variable":
		_, seen := m.variables[b.Labels[0]]
		dup("variable", b.Labels[0], seen)
		m.variables[b.Labels[0]] = b
	case "output":
		_, seen := m.outputs[b.Labels[0]]
		dup("output", b.Labels[0], seen)
		m.outputs[b.Labels[0]] = b
	case "locals":
		for name, attr := range b.Body.Attributes {
			dup("local", name, m.locals[name])
			m.locals[name] = true
			m.localExpr[name] = attr.Expr
		}
	case "resource":
		key := b.Labels[0] + "." + b.Labels[1]
		_, seen := m.resources[key]
		dup("resource", key, seen)
		m.resources[key] = b
	case "data":
		key := b.Labels[0] + "." + b.Labels[1]
		_, seen := m.data[key]
		dup("data", key, seen)
		m.data[key] = b
	case "module":
		_, seen := m.modules[b.Labels[0]]
		dup("module", b.Labels[0], seen)
		m.modules[b.Labels[0]] = b
	case "terraform":
		for _, tb := range b.Body.Blocks {
			if tb.Type == "required_providers" {
				for name := range tb.Body.Attributes {
					m.providers[name] = true
				}
			}
		}
	case "provider", "moved", "import", "check", "removed":
	default:
		t.Errorf("%s:%d: unknown block type %q", path, b.DefRange().Start.Line, b.Type)
	}
}

// moduleDirs returns every directory under root holding .tf files.
func moduleDirs(t *testing.T, root string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".tf") {
			seen[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for d := range seen {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// TestTerraform checks every module under infra/: the files parse and are
// formatted, every reference (var., local., module., data., resources)
// resolves, every variable has a type and a description, every output a
// description, and every module call passes only variables the called
// module declares and all it requires.
func TestTerraform(t *testing.T) {
	dirs := moduleDirs(t, ".")
	for _, want := range []string{".", filepath.Join("examples", "basic")} {
		if !slices.Contains(dirs, want) {
			t.Errorf("no module in %s (found %q)", want, dirs)
		}
	}
	mods := map[string]*module{}
	for _, dir := range dirs {
		mods[dir] = loadModule(t, dir)
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			m := mods[dir]
			m.checkDeclarations(t)
			m.checkReferences(t, mods)
		})
	}
}

func (m *module) checkDeclarations(t *testing.T) {
	t.Helper()
	for name, b := range m.variables {
		for _, attr := range []string{"type", "description"} {
			if _, ok := b.Body.Attributes[attr]; !ok {
				t.Errorf("variable %s: no %s", name, attr)
			}
		}
		if d, ok := b.Body.Attributes["description"]; ok {
			if v, diags := d.Expr.Value(nil); diags.HasErrors() || v.Type() != cty.String || len(v.AsString()) < 10 {
				t.Errorf("variable %s: the description is no sentence", name)
			}
		}
	}
	for name, b := range m.outputs {
		for _, attr := range []string{"value", "description"} {
			if _, ok := b.Body.Attributes[attr]; !ok {
				t.Errorf("output %s: no %s", name, attr)
			}
		}
	}
	for key := range m.resources {
		prov, _, _ := strings.Cut(key, "_")
		if !m.providers[prov] {
			t.Errorf("resource %s: provider %s is not in required_providers", key, prov)
		}
	}
}

// scope is the set of names a reference may start with besides var,
// local, module, data and resources: count, each, self, dynamic blocks'
// iterators.
type scope map[string]bool

func (s scope) with(names ...string) scope {
	out := scope{}
	for k := range s {
		out[k] = true
	}
	for _, n := range names {
		out[n] = true
	}
	return out
}

func (m *module) checkReferences(t *testing.T, mods map[string]*module) {
	t.Helper()
	for path, body := range m.files {
		for _, b := range body.Blocks {
			sc := scope{}
			switch b.Type {
			case "resource", "data", "module":
				if _, ok := b.Body.Attributes["count"]; ok {
					sc = sc.with("count")
				}
				if _, ok := b.Body.Attributes["for_each"]; ok {
					sc = sc.with("each")
				}
				if b.Type == "resource" {
					sc = sc.with("self")
				}
			case "terraform":
				continue
			case "variable":
				// The type is a type constraint, not references.
				if ty, ok := b.Body.Attributes["type"]; ok {
					if _, _, diags := typeexpr.TypeConstraintWithDefaults(ty.Expr); diags.HasErrors() {
						t.Errorf("%s: variable %s: type: %s", path, b.Labels[0], diags.Error())
					}
				}
				body := *b.Body
				body.Attributes = maps.Clone(b.Body.Attributes)
				delete(body.Attributes, "type")
				m.walk(t, path, &body, sc, false)
				continue
			}
			m.walk(t, path, b.Body, sc, false)
			if b.Type == "module" {
				m.checkModuleCall(t, path, b, mods)
			}
		}
	}
}

// walk checks every reference in body's attributes and nested blocks.
func (m *module) walk(t *testing.T, path string, body *hclsyntax.Body, sc scope, inLifecycle bool) {
	t.Helper()
	for name, attr := range body.Attributes {
		if inLifecycle && name == "ignore_changes" {
			continue // attribute names, not references
		}
		for _, tr := range hclsyntax.Variables(attr.Expr) {
			if err := m.resolve(tr, sc); err != nil {
				t.Errorf("%s:%d: %v", path, tr.SourceRange().Start.Line, err)
			}
		}
	}
	for _, b := range body.Blocks {
		inner := sc
		if b.Type == "dynamic" {
			iter := b.Labels[0]
			if it, ok := b.Body.Attributes["iterator"]; ok {
				iter = hcl.ExprAsKeyword(it.Expr)
			}
			for name, attr := range b.Body.Attributes {
				if name == "iterator" {
					continue
				}
				for _, tr := range hclsyntax.Variables(attr.Expr) {
					if err := m.resolve(tr, sc); err != nil {
						t.Errorf("%s:%d: %v", path, tr.SourceRange().Start.Line, err)
					}
				}
			}
			inner = sc.with(iter)
			for _, cb := range b.Body.Blocks {
				m.walk(t, path, cb.Body, inner, false)
			}
			continue
		}
		m.walk(t, path, b.Body, inner, inLifecycle || b.Type == "lifecycle")
	}
}

// name returns the attribute name of step i of tr, or "".
func name(tr hcl.Traversal, i int) string {
	if i >= len(tr) {
		return ""
	}
	switch s := tr[i].(type) {
	case hcl.TraverseRoot:
		return s.Name
	case hcl.TraverseAttr:
		return s.Name
	}
	return ""
}

func (m *module) resolve(tr hcl.Traversal, sc scope) error {
	root := tr.RootName()
	if sc[root] {
		return nil
	}
	switch root {
	case "var":
		if _, ok := m.variables[name(tr, 1)]; !ok {
			return fmt.Errorf("var.%s: no such variable", name(tr, 1))
		}
	case "local":
		if !m.locals[name(tr, 1)] {
			return fmt.Errorf("local.%s: no such local", name(tr, 1))
		}
	case "module":
		if _, ok := m.modules[name(tr, 1)]; !ok {
			return fmt.Errorf("module.%s: no such module", name(tr, 1))
		}
	case "data":
		key := name(tr, 1) + "." + name(tr, 2)
		if _, ok := m.data[key]; !ok {
			return fmt.Errorf("data.%s: no such data source", key)
		}
	case "path", "terraform":
	case "count", "each", "self":
		return fmt.Errorf("%s used outside a block that defines it", root)
	default:
		key := root + "." + name(tr, 1)
		if _, ok := m.resources[key]; !ok {
			return fmt.Errorf("%s: no such resource", key)
		}
	}
	return nil
}

// moduleMeta are the arguments of a module block that are not inputs.
var moduleMeta = []string{"source", "version", "providers", "count", "for_each", "depends_on"}

// checkModuleCall checks a call of a local module: the inputs are its
// variables, its required variables are given, and every module.NAME.OUT
// reference names one of its outputs.
func (m *module) checkModuleCall(t *testing.T, path string, b *hclsyntax.Block, mods map[string]*module) {
	t.Helper()
	src, ok := b.Body.Attributes["source"]
	if !ok {
		t.Errorf("%s: module %s has no source", path, b.Labels[0])
		return
	}
	v, diags := src.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String {
		t.Errorf("%s: module %s: source is not a string literal", path, b.Labels[0])
		return
	}
	s := v.AsString()
	if !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") {
		return
	}
	callee, ok := mods[filepath.Clean(filepath.Join(m.dir, s))]
	if !ok {
		t.Errorf("%s: module %s: no module at %s", path, b.Labels[0], s)
		return
	}
	for arg := range b.Body.Attributes {
		if slices.Contains(moduleMeta, arg) {
			continue
		}
		if _, ok := callee.variables[arg]; !ok {
			t.Errorf("%s: module %s: %s is no variable of %s", path, b.Labels[0], arg, s)
		}
	}
	for vname, vb := range callee.variables {
		if _, hasDefault := vb.Body.Attributes["default"]; hasDefault {
			continue
		}
		if _, given := b.Body.Attributes[vname]; !given {
			t.Errorf("%s: module %s: required variable %s not given", path, b.Labels[0], vname)
		}
	}
	for p, body := range m.files {
		checkOutputs(t, p, body, b.Labels[0], callee)
	}
}

// checkOutputs fails for every module.<call>.<output> in body whose
// output callee does not declare.
func checkOutputs(t *testing.T, path string, body *hclsyntax.Body, call string, callee *module) {
	t.Helper()
	for _, attr := range body.Attributes {
		for _, tr := range hclsyntax.Variables(attr.Expr) {
			if tr.RootName() == "module" && name(tr, 1) == call {
				if _, ok := callee.outputs[name(tr, 2)]; !ok {
					t.Errorf("%s:%d: module.%s.%s: no such output", path, tr.SourceRange().Start.Line, call, name(tr, 2))
				}
			}
		}
	}
	for _, b := range body.Blocks {
		checkOutputs(t, path, b.Body, call, callee)
	}
}

// literal evaluates attribute attr of body, which must be a constant.
func literal(t *testing.T, body *hclsyntax.Body, attr string) cty.Value {
	t.Helper()
	a, ok := body.Attributes[attr]
	if !ok {
		return cty.NilVal
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal
	}
	return v
}

// blocks returns body's nested blocks of type typ.
func blocks(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// actions returns the actions of a policy document's literal statements
// (dynamic statements included).
func actions(t *testing.T, doc *hclsyntax.Block) []string {
	t.Helper()
	var out []string
	var visit func(body *hclsyntax.Body)
	visit = func(body *hclsyntax.Body) {
		for _, st := range body.Blocks {
			switch st.Type {
			case "statement", "content":
				v := literal(t, st.Body, "actions")
				if v == cty.NilVal {
					t.Errorf("%s: a statement's actions are not a literal list", doc.Labels[1])
					continue
				}
				for it := v.ElementIterator(); it.Next(); {
					_, a := it.Element()
					out = append(out, a.AsString())
				}
			case "dynamic":
				visit(st.Body)
			}
		}
	}
	visit(doc.Body)
	sort.Strings(out)
	return out
}

// TestLeastPrivilege: replicas and the Lambda function may only list and
// read snapshots; only the master may write or delete them; the bucket
// is versioned, encrypted, private, and expires old versions.
func TestLeastPrivilege(t *testing.T) {
	m := loadModule(t, ".")
	read, ok := m.data["aws_iam_policy_document.snapshots_read"]
	if !ok {
		t.Fatal("no data.aws_iam_policy_document.snapshots_read")
	}
	for _, a := range actions(t, read) {
		if !slices.Contains([]string{"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}, a) {
			t.Errorf("the read-only policy allows %s", a)
		}
	}
	write := m.data["aws_iam_policy_document.snapshots_write"]
	if got := actions(t, write); !slices.Contains(got, "s3:PutObject") || !slices.Contains(got, "s3:DeleteObject") || slices.Contains(got, "s3:*") {
		t.Errorf("the master's policy allows %q", got)
	}
	// Which policy each role gets.
	for role, want := range map[string]string{
		"aws_iam_role_policy.master_snapshots":  "data.aws_iam_policy_document.snapshots_write.json",
		"aws_iam_role_policy.replica_snapshots": "data.aws_iam_policy_document.snapshots_read.json",
		// The snapshotter (snapshots_on_replica) writes and deletes
		// snapshots, as the master does.
		"aws_iam_role_policy.snapshotter_snapshots": "data.aws_iam_policy_document.snapshots_write.json",
		"aws_iam_role_policy.lambda":                "data.aws_iam_policy_document.lambda[0].json",
	} {
		b, ok := m.resources[role]
		if !ok {
			t.Errorf("no %s", role)
			continue
		}
		if got := exprText(m, b.Body.Attributes["policy"].Expr); got != want {
			t.Errorf("%s: policy = %s, want %s", role, got, want)
		}
	}
	// Each policy is attached to its own job's role: the snapshotter's
	// write access is not the master's role shared, and the replicas'
	// role gets nothing more than reading.
	for policy, want := range map[string]string{
		"aws_iam_role_policy.master_snapshots":      "aws_iam_role.master.id",
		"aws_iam_role_policy.replica_snapshots":     "aws_iam_role.replica.id",
		"aws_iam_role_policy.snapshotter_snapshots": "aws_iam_role.snapshotter[0].id",
		"aws_iam_role_policy.lambda":                "aws_iam_role.lambda[0].id",
	} {
		if b, ok := m.resources[policy]; ok {
			if got := exprText(m, b.Body.Attributes["role"].Expr); got != want {
				t.Errorf("%s: role = %s, want %s", policy, got, want)
			}
		}
	}
	for _, role := range []string{"master", "replica", "snapshotter"} {
		b, ok := m.resources["aws_iam_role."+role]
		if !ok {
			t.Errorf("no aws_iam_role.%s", role)
			continue
		}
		if got := exprText(m, b.Body.Attributes["assume_role_policy"].Expr); got != "data.aws_iam_policy_document.ecs_tasks_assume.json" {
			t.Errorf("aws_iam_role.%s: assume_role_policy = %s", role, got)
		}
	}
	for role, want := range map[string]string{
		"master":      "aws_iam_role.master.arn",
		"replica":     "aws_iam_role.replica.arn",
		"snapshotter": "one(aws_iam_role.snapshotter[*].arn)",
	} {
		if got := exprText(m, containerItem(t, m, role, "role_arn")); got != want {
			t.Errorf("the %s task's role_arn = %s, want %s", role, got, want)
		}
	}
	lambdaDoc := m.data["aws_iam_policy_document.lambda"]
	for _, a := range actions(t, lambdaDoc) {
		if strings.HasPrefix(a, "s3:") {
			t.Errorf("the Lambda policy adds %s beyond the read-only document", a)
		}
	}
	if got := exprText(m, lambdaDoc.Body.Attributes["source_policy_documents"].Expr); got != "[data.aws_iam_policy_document.snapshots_read.json]" {
		t.Errorf("the Lambda policy builds on %s, want the read-only document", got)
	}
	// Every S3 resource ARN in the policies is the bucket (for listing,
	// with a prefix condition) or the prefix's objects.
	for _, key := range []string{"aws_iam_policy_document.snapshots_read", "aws_iam_policy_document.snapshots_write"} {
		for _, st := range blocks(m.data[key].Body, "statement") {
			res := exprText(m, st.Body.Attributes["resources"].Expr)
			if res != "[local.bucket_arn]" && res != "[local.prefix_arn]" {
				t.Errorf("%s: statement on %s", key, res)
			}
			if res == "[local.bucket_arn]" && len(blocks(st.Body, "condition")) == 0 {
				if a := literal(t, st.Body, "actions"); !a.RawEquals(cty.TupleVal([]cty.Value{cty.StringVal("s3:ListBucketMultipartUploads")})) {
					t.Errorf("%s: bucket-level statement %#v without a prefix condition", key, a)
				}
			}
		}
	}

	pab := m.resources["aws_s3_bucket_public_access_block.snapshots"]
	for _, attr := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		if v := literal(t, pab.Body, attr); v != cty.True {
			t.Errorf("public access block: %s = %#v", attr, v)
		}
	}
	ver := m.resources["aws_s3_bucket_versioning.snapshots"]
	if v := literal(t, blocks(ver.Body, "versioning_configuration")[0].Body, "status"); v != cty.StringVal("Enabled") {
		t.Errorf("versioning status %#v", v)
	}
	if _, ok := m.resources["aws_s3_bucket_server_side_encryption_configuration.snapshots"]; !ok {
		t.Error("no default encryption")
	}
	lc := m.resources["aws_s3_bucket_lifecycle_configuration.snapshots"]
	if lc == nil || len(blocks(blocks(lc.Body, "rule")[0].Body, "noncurrent_version_expiration")) != 1 {
		t.Error("no lifecycle rule expiring noncurrent snapshot versions")
	}
	url := m.resources["aws_lambda_function_url.replica"]
	if got := exprText(m, url.Body.Attributes["authorization_type"].Expr); got != "var.lambda_url_auth_type" {
		t.Errorf("Function URL authorization_type = %s", got)
	}
}

// exprText returns the source text of expr.
func exprText(m *module, expr hclsyntax.Expression) string {
	r := expr.Range()
	for path := range m.files {
		if path == r.Filename {
			src, err := os.ReadFile(path)
			if err != nil {
				return ""
			}
			return string(src[r.Start.Byte:r.End.Byte])
		}
	}
	return ""
}

// TestEnvironmentNamesFlags: every FERRY_ setting the Terraform hands to
// ferry is a flag of ferry master or ferry replica, or a setting the
// Lambda handler reads.
func TestEnvironmentNamesFlags(t *testing.T) {
	var names []string
	paths, _ := filepath.Glob("*.tf")
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.FieldsFunc(string(src), func(r rune) bool {
			return !(r == '_' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			if strings.HasPrefix(f, "FERRY_") {
				names = append(names, f)
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("found %d FERRY_ names", len(names))
	}
	var sources []byte
	for _, glob := range []string{"../cmd/ferry/*.go", "../cmd/ferry-lambda/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sources = append(sources, b...)
		}
	}
	for _, n := range names {
		flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(n, "FERRY_")), "_", "-")
		if !bytes.Contains(sources, []byte(`"`+flag+`"`)) && !bytes.Contains(sources, []byte(`"`+n+`"`)) {
			t.Errorf("%s: no flag --%s in cmd/ferry and no %s in cmd/ferry-lambda", n, flag, n)
		}
	}
}

// containerItem returns the expression of attribute attr of role's entry
// in local.all_containers (an object constructor), or nil.
func containerItem(t *testing.T, m *module, role, attr string) hclsyntax.Expression {
	t.Helper()
	entry := objectItem(m.localExpr["all_containers"], role)
	if entry == nil {
		t.Errorf("local.all_containers has no entry %s", role)
		return nil
	}
	return objectItem(entry, attr)
}

// objectItem returns the value of key in an object constructor, or nil.
func objectItem(expr hclsyntax.Expression, key string) hclsyntax.Expression {
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	for _, it := range obj.Items {
		if hcl.ExprAsKeyword(it.KeyExpr) == key {
			return it.ValueExpr
		}
	}
	return nil
}

// unknownFunc stands for a Terraform function whose result the tests do
// not look at: it returns an unknown value.
var unknownFunc = function.New(&function.Spec{
	VarParam: &function.Parameter{Name: "args", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true},
	Type:     function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
		return cty.DynamicVal, nil
	},
})

// tfFuncs are the Terraform functions the locals use: the ones that
// shape the environments are cty's, as Terraform's are.
var tfFuncs = map[string]function.Function{
	"merge":      stdlib.MergeFunc,
	"tostring":   stdlib.MakeToFunc(cty.String),
	"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"coalesce":   stdlib.CoalesceFunc,
	"keys":       stdlib.KeysFunc,
	"sort":       stdlib.SortFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"one":        unknownFunc,
}

// evalContext evaluates the module's locals with the variables'
// defaults, overridden by vars, and every resource and data source
// unknown, and returns the context to evaluate expressions in (var,
// local, count-free meta-arguments). A local whose evaluation fails is
// unknown.
func (m *module) evalContext(t *testing.T, vars map[string]cty.Value) *hcl.EvalContext {
	t.Helper()
	vs := map[string]cty.Value{}
	for name, b := range m.variables {
		vs[name] = cty.DynamicVal
		if v := literal(t, b.Body, "default"); v != cty.NilVal {
			vs[name] = v
		}
	}
	for name, v := range vars {
		if _, ok := vs[name]; !ok {
			t.Fatalf("no variable %s", name)
		}
		vs[name] = v
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vs), "data": cty.DynamicVal}, Functions: tfFuncs}
	for key := range m.resources {
		typ, _, _ := strings.Cut(key, ".")
		ctx.Variables[typ] = cty.DynamicVal
	}
	locals := map[string]cty.Value{}
	for name := range m.localExpr {
		locals[name] = cty.DynamicVal
	}
	for range len(locals) + 1 {
		ctx.Variables["local"] = cty.ObjectVal(locals)
		changed := false
		for name, expr := range m.localExpr {
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			if !v.RawEquals(locals[name]) {
				changed = true
			}
			locals[name] = v
		}
		if !changed {
			break
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

// evalAttr evaluates attribute attr of body in ctx, failing the test when
// it is missing or does not evaluate.
func evalAttr(t *testing.T, ctx *hcl.EvalContext, what string, body *hclsyntax.Body, attr string) cty.Value {
	t.Helper()
	a, ok := body.Attributes[attr]
	if !ok {
		t.Errorf("%s: no %s", what, attr)
		return cty.DynamicVal
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		t.Errorf("%s: %s: %s", what, attr, diags.Error())
		return cty.DynamicVal
	}
	return v
}

// stringMap returns the known string attributes (or elements) of an
// object or map value; it fails the test for an unknown or null value.
func stringMap(t *testing.T, what string, v cty.Value) map[string]string {
	t.Helper()
	if !v.IsKnown() || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		t.Errorf("%s is %#v, want a known object", what, v)
		return nil
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsKnown() && !e.IsNull() && e.Type() == cty.String {
			out[k.AsString()] = e.AsString()
		} else {
			out[k.AsString()] = "(unknown)"
		}
	}
	return out
}

// keysOf returns the sorted keys of an object or map value.
func keysOf(v cty.Value) []string {
	if !v.IsKnown() || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		out = append(out, k.AsString())
	}
	sort.Strings(out)
	return out
}

// TestSnapshotsOnReplica checks the wiring of snapshots_on_replica by
// evaluating the module's locals and meta-arguments with it off and on:
// the snapshotter's service, role, policy, task definition and log group
// exist only when it is on; the snapshotter runs ferry replica with the
// replicas' environment plus the master's snapshot schedule and
// encryption; and the master's schedule is off only then.
func TestSnapshotsOnReplica(t *testing.T) {
	m := loadModule(t, ".")
	v, ok := m.variables["snapshots_on_replica"]
	if !ok {
		t.Fatal("no variable snapshots_on_replica")
	}
	if got := exprText(m, v.Body.Attributes["type"].Expr); got != "bool" {
		t.Errorf("snapshots_on_replica: type %s, want bool", got)
	}
	if d := literal(t, v.Body, "default"); d != cty.False {
		t.Errorf("snapshots_on_replica: default %#v, want false", d)
	}

	conditional := []string{"aws_ecs_service.snapshotter", "aws_iam_role.snapshotter", "aws_iam_role_policy.snapshotter_snapshots"}
	for _, kms := range []cty.Value{cty.NullVal(cty.String), cty.StringVal("arn:aws:kms:eu-west-1:123456789012:key/k")} {
		for _, on := range []bool{false, true} {
			ctx := m.evalContext(t, map[string]cty.Value{
				"snapshots_on_replica": cty.BoolVal(on),
				"snapshot_interval":    cty.StringVal("17m"),
				"kms_key_arn":          kms,
			})
			want := int64(0)
			roles := []string{"master", "replica"}
			if on {
				want = 1
				roles = append(roles, "snapshotter")
			}
			for _, key := range conditional {
				b, ok := m.resources[key]
				if !ok {
					t.Errorf("no %s", key)
					continue
				}
				c := evalAttr(t, ctx, key, b.Body, "count")
				if !c.IsKnown() || c.IsNull() || c.Type() != cty.Number {
					t.Errorf("%s: count %#v", key, c)
				} else if n, _ := c.AsBigFloat().Int64(); n != want {
					t.Errorf("snapshots_on_replica=%v: %s count = %d, want %d", on, key, n, want)
				}
			}
			sort.Strings(roles)
			for _, key := range []string{"aws_cloudwatch_log_group.ecs", "aws_ecs_task_definition.this"} {
				if got := keysOf(evalAttr(t, ctx, key, m.resources[key].Body, "for_each")); !slices.Equal(got, roles) {
					t.Errorf("snapshots_on_replica=%v: %s for_each keys %q, want %q", on, key, got, roles)
				}
			}

			local := ctx.Variables["local"]
			master := stringMap(t, "local.master_environment", local.GetAttr("master_environment"))
			replica := stringMap(t, "local.container_environment", local.GetAttr("container_environment"))
			snap := stringMap(t, "local.snapshotter_environment", local.GetAttr("snapshotter_environment"))
			if on {
				for _, k := range []string{"FERRY_SNAPSHOT_INTERVAL", "FERRY_SNAPSHOT_AFTER_WRITES"} {
					if master[k] != "0" {
						t.Errorf("snapshots_on_replica=true: the master's %s = %q, want \"0\"", k, master[k])
					}
				}
			} else {
				if got := master["FERRY_SNAPSHOT_INTERVAL"]; got != "17m" {
					t.Errorf("snapshots_on_replica=false: the master's FERRY_SNAPSHOT_INTERVAL = %q, want var.snapshot_interval", got)
				}
				if got, ok := master["FERRY_SNAPSHOT_AFTER_WRITES"]; ok {
					t.Errorf("snapshots_on_replica=false: the master's FERRY_SNAPSHOT_AFTER_WRITES = %q, want ferry's default", got)
				}
			}
			// The snapshotter: the replicas' settings, taking snapshots on
			// the schedule, encrypting as the master does.
			for k, v := range replica {
				if snap[k] != v {
					t.Errorf("the snapshotter's %s = %q, the replicas' %q", k, snap[k], v)
				}
			}
			for k, v := range map[string]string{"FERRY_TAKE_SNAPSHOTS": "true", "FERRY_SNAPSHOT_INTERVAL": "17m"} {
				if snap[k] != v {
					t.Errorf("the snapshotter's %s = %q, want %q", k, snap[k], v)
				}
			}
			sse := "AES256"
			if !kms.IsNull() {
				sse = "aws:kms"
			}
			for _, k := range []string{"FERRY_S3_SSE", "FERRY_S3_SSE_KMS_KEY_ID"} {
				if snap[k] != master[k] {
					t.Errorf("the snapshotter's %s = %q, the master's %q", k, snap[k], master[k])
				}
			}
			if master["FERRY_S3_SSE"] != sse {
				t.Errorf("kms_key_arn %#v: FERRY_S3_SSE = %q, want %q", kms, master["FERRY_S3_SSE"], sse)
			}
			if c := local.GetAttr("containers"); on && c.IsKnown() && c.Type().IsObjectType() && c.Type().HasAttribute("snapshotter") {
				if got := c.GetAttr("snapshotter").GetAttr("command"); got != cty.StringVal("replica") {
					t.Errorf("the snapshotter runs %#v, want replica", got)
				}
			}
		}
	}

	// The service: one task, the replicas' network, its own task
	// definition; the task definition runs each role's command.
	svc, ok := m.resources["aws_ecs_service.snapshotter"]
	if !ok {
		t.Fatal("no aws_ecs_service.snapshotter")
	}
	for attr, want := range map[string]string{
		"name":            `"${var.name}-snapshotter"`,
		"desired_count":   "1",
		"task_definition": `aws_ecs_task_definition.this["snapshotter"].arn`,
		"launch_type":     `"FARGATE"`,
		"cluster":         "local.ecs_cluster_arn",
	} {
		if a, ok := svc.Body.Attributes[attr]; !ok || exprText(m, a.Expr) != want {
			t.Errorf("aws_ecs_service.snapshotter: %s is not %s", attr, want)
		}
	}
	repl := m.resources["aws_ecs_service.replica"]
	nc, rnc := blocks(svc.Body, "network_configuration"), blocks(repl.Body, "network_configuration")
	if len(nc) != 1 || len(rnc) != 1 {
		t.Fatalf("network_configuration blocks: snapshotter %d, replica %d", len(nc), len(rnc))
	}
	for name, a := range rnc[0].Body.Attributes {
		if b, ok := nc[0].Body.Attributes[name]; !ok || exprText(m, b.Expr) != exprText(m, a.Expr) {
			t.Errorf("the snapshotter's network_configuration.%s differs from the replicas'", name)
		}
	}
	if len(nc[0].Body.Attributes) != len(rnc[0].Body.Attributes) {
		t.Errorf("the snapshotter's network_configuration has other settings than the replicas'")
	}
	td := m.resources["aws_ecs_task_definition.this"]
	if !regexp.MustCompile(`\bcommand\s*=\s*\[each\.value\.command\]`).MatchString(exprText(m, td.Body.Attributes["container_definitions"].Expr)) {
		t.Error("the task definition's command is not each role's command (each.value.command)")
	}
	for role, want := range map[string]string{"master": `"master"`, "replica": `"replica"`, "snapshotter": `"replica"`} {
		if got := exprText(m, containerItem(t, m, role, "command")); got != want {
			t.Errorf("the %s task's command = %s, want %s", role, got, want)
		}
	}
}

// flagsByFunc maps each function of cmd/ferry to the flags it defines,
// directly or through the package's functions it calls (addNATSFlags and
// the like): a flag is a method call on a flag set (String, StringVar,
// ...) whose name argument is a string literal.
func flagsByFunc(t *testing.T) func(fn string) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	own := map[string][]string{}
	calls := map[string][]string{}
	paths, _ := filepath.Glob("../cmd/ferry/*.go")
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil || fd.Recv != nil {
				continue
			}
			name := fd.Name.Name
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch fun := call.Fun.(type) {
				case *ast.Ident:
					calls[name] = append(calls[name], fun.Name)
				case *ast.SelectorExpr:
					i := 0
					if strings.HasSuffix(fun.Sel.Name, "Var") {
						i = 1
					}
					if !slices.Contains(flagMethods, strings.TrimSuffix(fun.Sel.Name, "Var")) || len(call.Args) <= i {
						return true
					}
					if lit, ok := call.Args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						own[name] = append(own[name], strings.Trim(lit.Value, "\"`"))
					}
				}
				return true
			})
		}
	}
	return func(fn string) map[string]bool {
		out := map[string]bool{}
		seen := map[string]bool{}
		var visit func(string)
		visit = func(fn string) {
			if seen[fn] {
				return
			}
			seen[fn] = true
			for _, f := range own[fn] {
				out[f] = true
			}
			for _, c := range calls[fn] {
				visit(c)
			}
		}
		visit(fn)
		return out
	}
}

// flagMethods are flag.FlagSet's methods defining a flag, without Var.
var flagMethods = []string{"String", "Bool", "Int", "Int64", "Uint", "Uint64", "Float64", "Duration", "Func", "BoolFunc", "Text", ""}

// TestContainerFlags: every FERRY_ setting and secret a container gets
// is a flag of the ferry command it runs (ferry master for the master,
// ferry replica for the replicas and the snapshotter), with
// snapshots_on_replica on and off.
func TestContainerFlags(t *testing.T) {
	m := loadModule(t, ".")
	flagsOf := flagsByFunc(t)
	for _, cmd := range []string{"runMaster", "runReplica"} {
		if fl := flagsOf(cmd); !fl["store"] || !fl["nats"] || !fl["snapshot-interval"] {
			t.Fatalf("%s: found flags %v, not --store, --nats, --snapshot-interval", cmd, fl)
		}
	}
	if flagsOf("runMaster")["take-snapshots"] {
		t.Fatal("runMaster has --take-snapshots: the flag finder is wrong")
	}
	for _, on := range []bool{false, true} {
		ctx := m.evalContext(t, map[string]cty.Value{"snapshots_on_replica": cty.BoolVal(on)})
		local := ctx.Variables["local"]
		var secrets []string
		if s := local.GetAttr("container_secrets"); s.IsKnown() && s.CanIterateElements() {
			for it := s.ElementIterator(); it.Next(); {
				_, e := it.Element()
				secrets = append(secrets, e.GetAttr("name").AsString())
			}
		}
		if len(secrets) == 0 {
			t.Fatal("no names in local.container_secrets")
		}
		containers := local.GetAttr("containers")
		roles := keysOf(containers)
		if len(roles) < 2 {
			t.Fatalf("local.containers = %#v", containers)
		}
		for _, role := range roles {
			c := containers.GetAttr(role)
			cmd := c.GetAttr("command")
			if !cmd.IsKnown() || cmd.IsNull() || cmd.Type() != cty.String {
				t.Errorf("%s: command %#v", role, cmd)
				continue
			}
			fn := "run" + strings.ToUpper(cmd.AsString()[:1]) + cmd.AsString()[1:]
			flags := flagsOf(fn)
			if len(flags) == 0 {
				t.Errorf("%s: ferry %s has no flags (no %s in cmd/ferry)", role, cmd.AsString(), fn)
				continue
			}
			names := append(keysOf(c.GetAttr("environment")), secrets...)
			if len(names) < 5 {
				t.Errorf("%s: environment %#v", role, c.GetAttr("environment"))
			}
			for _, n := range names {
				flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(n, "FERRY_")), "_", "-")
				if !strings.HasPrefix(n, "FERRY_") || !flags[flag] {
					t.Errorf("snapshots_on_replica=%v: %s sets %s, but ferry %s has no --%s", on, role, n, cmd.AsString(), flag)
				}
			}
		}
	}
}

// TestReplicaLogMirror checks the wiring of replica_log_mirror: the
// replicas' tasks and the Lambda function read the log from the mirror it
// names (FERRY_LOG_MIRROR, ferry replica --log-mirror) when it is set; the
// master and the snapshotter, which write the stream or trim it, never do.
func TestReplicaLogMirror(t *testing.T) {
	m := loadModule(t, ".")
	if _, ok := m.variables["replica_log_mirror"]; !ok {
		t.Fatal("no variable replica_log_mirror")
	}
	for _, mirror := range []cty.Value{cty.NullVal(cty.String), cty.StringVal("FERRY_SESSIONS_EU")} {
		auth := cty.ObjectVal(map[string]cty.Value{"user": cty.StringVal("u"), "password": cty.StringVal("p"), "token": cty.StringVal("")})
		ctx := m.evalContext(t, map[string]cty.Value{"replica_log_mirror": mirror, "snapshots_on_replica": cty.True, "nats_auth": auth})
		want := ""
		if !mirror.IsNull() {
			want = mirror.AsString()
		}
		expr := containerItem(t, m, "replica", "environment")
		if expr == nil {
			return
		}
		v, diags := expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("the replica's environment: %s", diags.Error())
		}
		local := ctx.Variables["local"]
		for what, env := range map[string]map[string]string{
			"replica":     stringMap(t, "the replica's environment", v),
			"lambda":      stringMap(t, "local.lambda_environment", local.GetAttr("lambda_environment")),
			"master":      stringMap(t, "local.master_environment", local.GetAttr("master_environment")),
			"snapshotter": stringMap(t, "local.snapshotter_environment", local.GetAttr("snapshotter_environment")),
		} {
			w := want
			if what == "master" || what == "snapshotter" {
				w = ""
			}
			if got := env["FERRY_LOG_MIRROR"]; got != w {
				t.Errorf("replica_log_mirror=%#v: the %s's FERRY_LOG_MIRROR = %q, want %q", mirror, what, got, w)
			}
		}
	}
}
