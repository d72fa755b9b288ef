// The constant evaluator: Go expressions of the conformance sources → JSON values, resolving
// literals, constants of the known packages, conversions and simple local variables.
package main

import (
	"fmt"
	"go/ast"
	"go/printer"
	"go/token"
	"strconv"
	"strings"
)

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
		// new(x) is Go 1.26's pointer to a value.
		return f.Name == "new" || f.Name == "string" || f.Name == "int" || f.Name == "int32" || f.Name == "int64" || (len(f.Name) > 0 && strings.ToUpper(f.Name[:1]) == f.Name[:1])
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

// evalIn evaluates x with other locals and scope (a call's arguments, in the caller).
func (e *evaluator) evalIn(locals map[string]any, scope fileScope, x ast.Expr) (any, bool) {
	inner := evaluator{cs: e.cs, scope: scope, locals: locals, fset: e.fset}
	return inner.scalar(x)
}
