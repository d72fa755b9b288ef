// Command gateway-api-cases turns the Gateway API conformance tests (Go sources of the pinned
// release, as cached by `scripts/tools.sh gateway-api`) into data: for each HTTPRoute or mesh
// test, its name, features, manifests and every http.ExpectedResponse literal, read with Go's
// own parser so nothing is copied by hand. A value the parser cannot resolve statically (a loop
// variable, a function result) is kept as {"unresolved": "<Go expression>"} and listed, never
// guessed.
//
//	(cd scripts/gateway-api-cases && GOWORK=off go run . -src "$(../tools.sh path gateway-api)" -version v1.6.0) \
//	  > test/gateway-api/cases/conformance.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Packages whose constants the tests use, by import path, relative to -src.
var constPackages = map[string]string{
	"sigs.k8s.io/gateway-api/conformance/utils/suite":        "conformance/utils/suite",
	"sigs.k8s.io/gateway-api/conformance/utils/echo":         "conformance/utils/echo",
	"sigs.k8s.io/gateway-api/conformance/utils/http":         "conformance/utils/http",
	"sigs.k8s.io/gateway-api/pkg/features":                   "pkg/features",
	"sigs.k8s.io/gateway-api/conformance/utils/roundtripper": "conformance/utils/roundtripper",
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
