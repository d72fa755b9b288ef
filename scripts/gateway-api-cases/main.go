// Command gateway-api-cases turns the Gateway API conformance tests (Go sources of the pinned
// release, as cached by `scripts/tools.sh gateway-api`) into data: for each HTTPRoute or mesh
// test, its name, features, manifests and every http.ExpectedResponse literal, read with Go's
// own parser so nothing is copied by hand. A value the parser cannot resolve statically (a loop
// variable, a function result) is kept as {"unresolved": "<Go expression>"} and listed, never
// guessed.
//
//	go run ./scripts/gateway-api-cases -src "$(scripts/tools.sh path gateway-api)" -version v1.6.0 > test/gateway-api/cases/conformance.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Packages whose constants the tests use, by import path, relative to -src.
var constPackages = map[string]string{
	"sigs.k8s.io/gateway-api/conformance/utils/suite": "conformance/utils/suite",
	"sigs.k8s.io/gateway-api/conformance/utils/echo":  "conformance/utils/echo",
	"sigs.k8s.io/gateway-api/conformance/utils/http":  "conformance/utils/http",
	"sigs.k8s.io/gateway-api/pkg/features":            "pkg/features",
}

const (
	httpPkg     = "sigs.k8s.io/gateway-api/conformance/utils/http"
	suitePkg    = "sigs.k8s.io/gateway-api/conformance/utils/suite"
	testsPkg    = "tests"
	meshTestPkg = "tests/mesh"
)

// coreFeatures: a test that needs no other feature is a core test.
var coreFeatures = map[string]bool{"Gateway": true, "HTTPRoute": true, "ReferenceGrant": true, "Mesh": true}

type Unresolved struct {
	Unresolved string `json:"unresolved"`
}

type Case struct {
	// Subtest is the t.Run name around the literal, when it is a constant.
	Subtest string `json:"subtest,omitempty"`
	// Expected is the http.ExpectedResponse literal as JSON (Go field names).
	Expected any `json:"expected"`
	// Unresolved lists the fields whose value is not a constant.
	Unresolved []string `json:"unresolved,omitempty"`
}

type Test struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	File        string   `json:"file"`
	Mesh        bool     `json:"mesh"`
	Core        bool     `json:"core"`
	Provisional bool     `json:"provisional,omitempty"`
	Features    []string `json:"features"`
	Manifests   []string `json:"manifests"`
	Cases       []Case   `json:"cases"`
	Weights     []any    `json:"weights,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

type Output struct {
	Comment   string            `json:"comment"`
	Version   string            `json:"version"`
	Base      map[string]string `json:"base"`
	Manifests map[string]string `json:"manifests"`
	Tests     []Test            `json:"tests"`
}

// consts holds "importpath.Name" → value for the constant packages and "pkgdir:Name" for the
// tests' own package-level constants.
type consts map[string]any

type fileScope struct {
	imports map[string]string // local name → import path
	pkg     string            // key prefix for the file's own package
}

func main() {
	src := flag.String("src", "", "the cached release folder (scripts/tools.sh path gateway-api)")
	version := flag.String("version", "", "the release, for the output header")
	flag.Parse()
	if *src == "" || *version == "" {
		fmt.Fprintln(os.Stderr, "usage: gateway-api-cases -src DIR -version vX.Y.Z > conformance.json")
		os.Exit(2)
	}
	out, err := generate(*src, *version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway-api-cases:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "gateway-api-cases:", err)
		os.Exit(1)
	}
}

func generate(src, version string) (*Output, error) {
	fset := token.NewFileSet()
	cs := consts{}
	for imp, dir := range constPackages {
		files, err := parseDir(fset, filepath.Join(src, dir))
		if err != nil {
			return nil, err
		}
		collectConsts(cs, files, imp)
	}
	out := &Output{
		Comment:   fmt.Sprintf("Generated from sigs.k8s.io/gateway-api/conformance@%s by scripts/gateway-api-cases (see test/gateway-api/cases/README.md); do not edit.", version),
		Version:   version,
		Base:      map[string]string{},
		Manifests: map[string]string{},
	}
	for _, b := range []string{"base/manifests.yaml", "mesh/manifests.yaml"} {
		text, err := os.ReadFile(filepath.Join(src, "conformance", b))
		if err != nil {
			return nil, err
		}
		out.Base[b] = string(text)
	}
	for _, dir := range []string{testsPkg, meshTestPkg} {
		files, err := parseDir(fset, filepath.Join(src, "conformance", dir))
		if err != nil {
			return nil, err
		}
		collectConsts(cs, files, dir)
		pkg := packageInfo(files, dir)
		names := make([]string, 0, len(files))
		for name := range files {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			f := files[name]
			scope := scopeOf(f, dir)
			for _, t := range testsIn(fset, f, scope, cs, pkg) {
				if !(dir == meshTestPkg || contains(t.Features, "HTTPRoute")) {
					continue
				}
				t.File = "conformance/" + dir + "/" + filepath.Base(name)
				t.Mesh = dir == meshTestPkg
				t.Core = true
				for _, ft := range t.Features {
					if !coreFeatures[ft] {
						t.Core = false
					}
				}
				for _, m := range t.Manifests {
					text, err := os.ReadFile(filepath.Join(src, "conformance", m))
					if err != nil {
						return nil, fmt.Errorf("%s: manifest %s: %w", t.Name, m, err)
					}
					out.Manifests[m] = string(text)
				}
				out.Tests = append(out.Tests, t)
			}
		}
	}
	sort.Slice(out.Tests, func(i, j int) bool {
		if out.Tests[i].Mesh != out.Tests[j].Mesh {
			return !out.Tests[i].Mesh
		}
		return out.Tests[i].Name < out.Tests[j].Name
	})
	return out, nil
}

func parseDir(fset *token.FileSet, dir string) (map[string]*ast.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string]*ast.File{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files[path] = f
	}
	return files, nil
}

func scopeOf(f *ast.File, pkg string) fileScope {
	s := fileScope{imports: map[string]string{}, pkg: pkg}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		s.imports[name] = path
	}
	return s
}

// collectConsts records the package-level constants (and string vars) that are literals,
// conversions of literals, or references to other such constants (resolved in a few passes).
func collectConsts(cs consts, files map[string]*ast.File, pkg string) {
	type pending struct {
		key   string
		expr  ast.Expr
		scope fileScope
	}
	var todo []pending
	for _, f := range files {
		scope := scopeOf(f, pkg)
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || (g.Tok != token.CONST && g.Tok != token.VAR) {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						todo = append(todo, pending{pkg + "." + n.Name, vs.Values[i], scope})
					}
				}
			}
		}
	}
	for pass := 0; pass < 4; pass++ {
		for _, p := range todo {
			if _, done := cs[p.key]; done {
				continue
			}
			e := evaluator{cs: cs, scope: p.scope, locals: map[string]any{}, fset: token.NewFileSet()}
			if v, ok := e.scalar(p.expr); ok {
				cs[p.key] = v
			}
		}
	}
}

type evaluator struct {
	cs     consts
	scope  fileScope
	locals map[string]any
	// missing collects the unresolved expressions of the value being evaluated.
	missing []string
	fset    *token.FileSet
}

// scalar evaluates a constant expression: a literal, a known constant, a conversion, "+".
func (e *evaluator) scalar(x ast.Expr) (any, bool) {
	switch v := x.(type) {
	case *ast.BasicLit:
		switch v.Kind {
		case token.STRING:
			s, err := strconv.Unquote(v.Value)
			return s, err == nil
		case token.INT:
			n, err := strconv.ParseInt(v.Value, 0, 64)
			return n, err == nil
		case token.FLOAT:
			f, err := strconv.ParseFloat(v.Value, 64)
			return f, err == nil
		}
	case *ast.Ident:
		switch v.Name {
		case "true":
			return true, true
		case "false":
			return false, true
		case "nil":
			return nil, true
		}
		if val, ok := e.locals[v.Name]; ok && val != nil {
			return val, true
		}
		val, ok := e.cs[e.scope.pkg+"."+v.Name]
		return val, ok
	case *ast.SelectorExpr:
		if pkg, ok := v.X.(*ast.Ident); ok {
			if path, ok := e.scope.imports[pkg.Name]; ok {
				val, ok := e.cs[path+"."+v.Sel.Name]
				return val, ok
			}
		}
	case *ast.ParenExpr:
		return e.scalar(v.X)
	case *ast.CallExpr:
		// A conversion such as features.FeatureName("x") or v1.Namespace(ns), or ptr.To(x).
		if len(v.Args) == 1 && isConversionOrPtr(v.Fun) {
			return e.scalar(v.Args[0])
		}
	case *ast.BinaryExpr:
		if v.Op == token.ADD {
			a, okA := e.scalar(v.X)
			b, okB := e.scalar(v.Y)
			sa, isA := a.(string)
			sb, isB := b.(string)
			if okA && okB && isA && isB {
				return sa + sb, true
			}
		}
	}
	return nil, false
}

func isConversionOrPtr(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name == "string" || f.Name == "int" || f.Name == "int32" || f.Name == "int64" || (len(f.Name) > 0 && strings.ToUpper(f.Name[:1]) == f.Name[:1])
	case *ast.SelectorExpr:
		// pkg.Type(x) conversions are capitalised; ptr.To(x) is the one helper the tests use.
		return f.Sel.Name == "To" || (len(f.Sel.Name) > 0 && strings.ToUpper(f.Sel.Name[:1]) == f.Sel.Name[:1] && !strings.HasPrefix(f.Sel.Name, "Must") && !strings.HasPrefix(f.Sel.Name, "New") && !strings.HasPrefix(f.Sel.Name, "Get"))
	}
	return false
}

// value evaluates any expression of a literal: composite literals become objects, lists or
// maps; anything not constant becomes Unresolved and is recorded at `path`.
func (e *evaluator) value(x ast.Expr, path string) any {
	switch v := x.(type) {
	case *ast.UnaryExpr:
		if v.Op == token.AND {
			return e.value(v.X, path)
		}
	case *ast.CompositeLit:
		return e.composite(v, path)
	}
	if s, ok := e.scalar(x); ok {
		return s
	}
	text := exprText(e.fset, x)
	e.missing = append(e.missing, path+": "+text)
	return Unresolved{Unresolved: text}
}

func (e *evaluator) composite(c *ast.CompositeLit, path string) any {
	if _, isMap := c.Type.(*ast.MapType); isMap {
		m := map[string]any{}
		for _, el := range c.Elts {
			kv := el.(*ast.KeyValueExpr)
			k, ok := e.scalar(kv.Key)
			key := fmt.Sprint(k)
			if !ok {
				key = exprText(e.fset, kv.Key)
				e.missing = append(e.missing, path+"[key]: "+key)
			}
			m[key] = e.value(kv.Value, path+"["+key+"]")
		}
		return m
	}
	if len(c.Elts) > 0 {
		if _, keyed := c.Elts[0].(*ast.KeyValueExpr); keyed {
			m := map[string]any{}
			for _, el := range c.Elts {
				kv := el.(*ast.KeyValueExpr)
				name := exprText(e.fset, kv.Key)
				m[name] = e.value(kv.Value, joinPath(path, name))
			}
			return m
		}
	}
	if _, isStruct := c.Type.(*ast.ArrayType); !isStruct && c.Type != nil && len(c.Elts) == 0 {
		return map[string]any{}
	}
	list := []any{}
	for i, el := range c.Elts {
		list = append(list, e.value(el, fmt.Sprintf("%s[%d]", path, i)))
	}
	return list
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func exprText(fset *token.FileSet, x ast.Expr) string {
	var b strings.Builder
	if err := printer.Fprint(&b, fset, x); err != nil {
		return fmt.Sprintf("<%T>", x)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// testsIn finds `var X = suite.ConformanceTest{...}` declarations and reads each one.
func testsIn(fset *token.FileSet, f *ast.File, scope fileScope, cs consts, pkg *pkgInfo) []Test {
	var out []Test
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for _, val := range vs.Values {
				c, ok := val.(*ast.CompositeLit)
				if !ok || !isSelector(c.Type, scope, suitePkg, "ConformanceTest") {
					continue
				}
				out = append(out, readTest(fset, c, scope, cs, pkg))
			}
		}
	}
	return out
}

func isSelector(x ast.Expr, scope fileScope, pkg, name string) bool {
	s, ok := x.(*ast.SelectorExpr)
	if !ok || s.Sel.Name != name {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && scope.imports[id.Name] == pkg
}

func readTest(fset *token.FileSet, c *ast.CompositeLit, scope fileScope, cs consts, pkg *pkgInfo) Test {
	t := Test{Features: []string{}, Manifests: []string{}, Cases: []Case{}}
	e := &evaluator{cs: cs, scope: scope, locals: map[string]any{}, fset: fset}
	var body *ast.BlockStmt
	for _, el := range c.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key := exprText(fset, kv.Key)
		switch key {
		case "ShortName", "Description":
			v, _ := e.scalar(kv.Value)
			s, _ := v.(string)
			if key == "ShortName" {
				t.Name = s
			} else {
				t.Description = s
			}
		case "Provisional":
			v, _ := e.scalar(kv.Value)
			t.Provisional = v == true
		case "Features", "Manifests":
			if list, ok := kv.Value.(*ast.CompositeLit); ok {
				for _, x := range list.Elts {
					v, ok := e.scalar(x)
					s, isString := v.(string)
					if !ok || !isString {
						t.Notes = append(t.Notes, key+": cannot resolve "+exprText(fset, x))
						continue
					}
					if key == "Features" {
						t.Features = append(t.Features, s)
					} else {
						t.Manifests = append(t.Manifests, s)
					}
				}
			}
		case "Test":
			if fn, ok := kv.Value.(*ast.FuncLit); ok {
				body = fn.Body
			}
			// Test: OtherTest.Test reuses another test's function (with this test's manifests).
			if sel, ok := kv.Value.(*ast.SelectorExpr); ok && sel.Sel.Name == "Test" {
				if id, ok := sel.X.(*ast.Ident); ok && pkg.tests[id.Name] != nil {
					body = pkg.tests[id.Name]
					t.Notes = append(t.Notes, "runs the Test function of "+id.Name)
				}
			}
		}
	}
	if body != nil {
		readBody(e, body, &t, scope, pkg)
	}
	if len(t.Cases) == 0 {
		t.Notes = append(t.Notes, "no http.ExpectedResponse literal: the test checks status or uses another client")
	}
	return t
}

// readBody walks the test function in source order: simple local constants (x := "lit") are
// tracked so later literals can use them; every http.ExpectedResponse literal (alone, or an
// element of a []http.ExpectedResponse) becomes a case; map[string]float64 literals are the
// expected weight distributions.
func readBody(e *evaluator, body *ast.BlockStmt, t *Test, scope fileScope, pkg *pkgInfo) {
	var walk func(n ast.Node, subtest string)
	depth := 0
	walk = func(root ast.Node, subtest string) {
		ast.Inspect(root, func(n ast.Node) bool {
			switch v := n.(type) {
			case *ast.AssignStmt:
				if len(v.Lhs) == len(v.Rhs) {
					for i, l := range v.Lhs {
						id, ok := l.(*ast.Ident)
						if !ok {
							continue
						}
						if val, ok := e.scalar(v.Rhs[i]); ok {
							if old, seen := e.locals[id.Name]; seen && old != val {
								e.locals[id.Name] = nil // assigned two values: not a constant
							} else {
								e.locals[id.Name] = val
							}
						}
					}
				}
			case *ast.RangeStmt:
				// Loop variables are never constants.
				for _, x := range []ast.Expr{v.Key, v.Value} {
					if id, ok := x.(*ast.Ident); ok {
						e.locals[id.Name] = nil
					}
				}
			case *ast.CallExpr:
				// A helper of the test package: its literals are cases too, with the call's
				// constant arguments bound to its parameters (others stay unresolved).
				if id, ok := v.Fun.(*ast.Ident); ok && pkg.funcs[id.Name].decl != nil && depth < 2 {
					fn := pkg.funcs[id.Name]
					saved, savedScope := e.locals, e.scope
					e.locals = map[string]any{}
					i := 0
					for _, field := range fn.decl.Type.Params.List {
						for _, name := range field.Names {
							if i < len(v.Args) {
								if val, ok := e.evalIn(saved, savedScope, v.Args[i]); ok {
									e.locals[name.Name] = val
								}
							}
							i++
						}
					}
					e.scope = fn.scope
					depth++
					before := len(t.Cases)
					walk(fn.decl.Body, subtest)
					if len(t.Cases) > before {
						t.Notes = appendOnce(t.Notes, "cases from the helper "+id.Name)
					}
					depth--
					e.locals, e.scope = saved, savedScope
					return true
				}
				// t.Run("name", func...): cases inside carry the subtest name.
				if sel, ok := v.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" && len(v.Args) == 2 {
					if name, ok := e.scalar(v.Args[0]); ok {
						if s, ok := name.(string); ok {
							walk(v.Args[1], s)
							return false
						}
					}
				}
			case *ast.CompositeLit:
				if isSelector(v.Type, scope, httpPkg, "ExpectedResponse") {
					addCase(e, v, t, subtest)
					return false
				}
				if arr, ok := v.Type.(*ast.ArrayType); ok && isSelector(arr.Elt, scope, httpPkg, "ExpectedResponse") {
					for _, el := range v.Elts {
						if c, ok := el.(*ast.CompositeLit); ok {
							addCase(e, c, t, subtest)
						}
					}
					return false
				}
				if m, ok := v.Type.(*ast.MapType); ok && exprText(e.fset, m.Value) == "float64" {
					e.missing = nil
					t.Weights = append(t.Weights, e.value(v, "weights"))
					for _, miss := range e.missing {
						t.Notes = append(t.Notes, "weights: unresolved "+miss)
					}
					return false
				}
			}
			return true
		})
	}
	walk(body, "")
}

func addCase(e *evaluator, c *ast.CompositeLit, t *Test, subtest string) {
	e.missing = nil
	expected := e.value(c, "")
	tc := Case{Subtest: subtest, Expected: expected}
	if len(e.missing) > 0 {
		tc.Unresolved = append([]string{}, e.missing...)
	}
	t.Cases = append(t.Cases, tc)
}

type funcInfo struct {
	decl  *ast.FuncDecl
	scope fileScope
}

// pkgInfo: a test package's top-level functions and test variables' Test bodies.
type pkgInfo struct {
	funcs map[string]funcInfo
	tests map[string]*ast.BlockStmt
}

func packageInfo(files map[string]*ast.File, dir string) *pkgInfo {
	p := &pkgInfo{funcs: map[string]funcInfo{}, tests: map[string]*ast.BlockStmt{}}
	for _, f := range files {
		scope := scopeOf(f, dir)
		for _, d := range f.Decls {
			switch g := d.(type) {
			case *ast.FuncDecl:
				if g.Recv == nil && g.Body != nil && g.Name.Name != "init" {
					p.funcs[g.Name.Name] = funcInfo{decl: g, scope: scope}
				}
			case *ast.GenDecl:
				for _, spec := range g.Specs {
					vs, ok := spec.(*ast.ValueSpec)
					if !ok {
						continue
					}
					for i, val := range vs.Values {
						c, ok := val.(*ast.CompositeLit)
						if !ok || !isSelector(c.Type, scope, suitePkg, "ConformanceTest") {
							continue
						}
						for _, el := range c.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok && exprText(token.NewFileSet(), kv.Key) == "Test" {
								if fn, ok := kv.Value.(*ast.FuncLit); ok {
									p.tests[vs.Names[i].Name] = fn.Body
								}
							}
						}
					}
				}
			}
		}
	}
	return p
}

// evalIn evaluates x with other locals and scope (a call's arguments, in the caller).
func (e *evaluator) evalIn(locals map[string]any, scope fileScope, x ast.Expr) (any, bool) {
	inner := evaluator{cs: e.cs, scope: scope, locals: locals, fset: e.fset}
	return inner.scalar(x)
}

func appendOnce(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}
