// Reading the conformance tests: ConformanceTest declarations, their Test functions and the
// http.ExpectedResponse literals in them (and in the helpers they call).
package main

import (
	"go/ast"
	"go/token"
)

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

func appendOnce(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}
