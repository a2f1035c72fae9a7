package apierror

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sourceMessage is an English text the system's code gives to package
// fault: a field violation's description (or Addf's format) or a rule's
// reason code.
type sourceMessage struct {
	reason  bool // a reason code
	message bool // a status's message made without package fault
	text    string
	pos     string
}

// faultImport is the import path of package fault.
const faultImport = `"github.com/socmgmt/socmgmt/internal/fault"`

// describers are the functions and methods whose second argument is a
// field violation's description: fault.Invalid, Violations.Add and Addf,
// and the local helpers that wrap them.
var describers = map[string]bool{"Invalid": true, "Add": true, "Addf": true, "add": true, "badRequest": true}

// statusMakers are package status's constructors of a status.
var statusMakers = map[string]bool{"Error": true, "Errorf": true, "New": true, "Newf": true}

// reasonGivers are package fault's constructors of rule errors.
var reasonGivers = map[string]bool{"Rule": true, "Conflict": true, "Limit": true, "LimitRetry": true}

// sourceMessages walks the Go source under roots (relative to the module's
// root) and returns every text given to fault, skipping tests and
// generated code. A text given as a constant is resolved in its package; a
// text made by fmt.Sprintf counts as its format; anything else (an error's
// text, a variable) is not seen here.
func sourceMessages(t *testing.T, roots ...string) []sourceMessage {
	t.Helper()
	var out []sourceMessage
	for _, root := range roots {
		dirs := map[string][]*ast.File{}
		fset := token.NewFileSet()
		err := filepath.WalkDir(filepath.Join("..", "..", root), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.Contains(name, ".pb.") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			if !ast.IsGenerated(f) {
				dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], f)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, files := range dirs {
			out = append(out, packageMessages(fset, files)...)
		}
	}
	return out
}

func packageMessages(fset *token.FileSet, files []*ast.File) []sourceMessage {
	consts := stringConsts(files)
	var out []sourceMessage
	for _, f := range files {
		// The gateway makes its BadRequests itself, without package fault.
		usesFault := f.Name.Name == "gateway"
		for _, im := range f.Imports {
			usesFault = usesFault || im.Path.Value == faultImport
		}
		add := func(reason bool, e ast.Expr) {
			if s, ok := textOf(e, consts); ok {
				out = append(out, sourceMessage{reason: reason, text: s, pos: fset.Position(e.Pos()).String()})
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			// status.Error(codes.X, "message"), wherever it is made
			if call, ok := n.(*ast.CallExpr); ok && len(call.Args) >= 2 {
				if name, recv := callee(call.Fun); recv == "status" && statusMakers[name] {
					// "invalid argument: %s: %s" is a BadRequest's, rendered by its field
					if s, ok := textOf(call.Args[1], consts); ok && !strings.HasPrefix(s, "%") && !strings.HasPrefix(s, "invalid argument: %") {
						out = append(out, sourceMessage{message: true, text: s, pos: fset.Position(call.Args[1].Pos()).String()})
					}
				}
			}
			if call, ok := n.(*ast.CallExpr); ok && !usesFault {
				// idnumber's and creditcode's errors, whose Message
				// becomes a description.
				if name, _ := callee(call.Fun); name == "newError" && len(call.Args) == 2 {
					add(false, call.Args[1])
				}
			}
			if !usesFault {
				return true
			}
			switch n := n.(type) {
			case *ast.FuncDecl:
				// a helper that says what is wrong: its texts are descriptions
				if strings.HasSuffix(n.Name.Name, "Problem") && n.Body != nil {
					ast.Inspect(n.Body, func(m ast.Node) bool {
						if r, ok := m.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
							add(false, r.Results[0])
						}
						return true
					})
				}
			case *ast.ValueSpec:
				// a table of descriptions, e.g. refusalText
				for i, name := range n.Names {
					if lit, ok := valueAt(n, i).(*ast.CompositeLit); ok && strings.HasSuffix(name.Name, "Text") {
						for _, el := range lit.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								add(false, kv.Value)
							}
						}
					}
				}
			case *ast.AssignStmt:
				// field, desc = m[1], "unknown field"
				for i, lhs := range n.Lhs {
					if id, ok := lhs.(*ast.Ident); ok && (id.Name == "desc" || id.Name == "description") && len(n.Rhs) == len(n.Lhs) {
						add(false, n.Rhs[i])
					}
				}
			case *ast.CallExpr:
				name, recv := callee(n.Fun)
				switch {
				case name == "add" && len(n.Args) == 3:
					// a problem of several kinds: field, reason, message
					add(false, n.Args[2])
				case describers[name] && len(n.Args) >= 2 && !strings.HasSuffix(recv, "Header()"):
					add(false, n.Args[1])
				case reasonGivers[name] && recv == "fault" && len(n.Args) >= 1:
					add(true, n.Args[0])
				}
			case *ast.CompositeLit:
				typ, _ := callee(n.Type)
				if typ == "queryParamError" && len(n.Elts) == 2 {
					add(false, n.Elts[1])
				}
				for _, el := range n.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					key, _ := callee(kv.Key)
					switch {
					case typ == "FieldViolation" && key == "Description":
						add(false, kv.Value)
					case typ == "RuleError" && key == "Reason":
						add(true, kv.Value)
					}
				}
			}
			return true
		})
	}
	return out
}

func valueAt(vs *ast.ValueSpec, i int) ast.Expr {
	if i < len(vs.Values) {
		return vs.Values[i]
	}
	return nil
}

// callee names a function or selector: ("Add", "v") for v.Add.
func callee(e ast.Expr) (name, recv string) {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name, ""
	case *ast.SelectorExpr:
		return e.Sel.Name, types(e.X)
	case *ast.StarExpr:
		return callee(e.X)
	}
	return "", ""
}

// types renders a receiver expression roughly: "v", "w.Header()".
func types(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return types(e.X) + "." + e.Sel.Name
	case *ast.CallExpr:
		return types(e.Fun) + "()"
	}
	return "?"
}

// textOf is the text of a string literal, a string constant or the format
// of fmt.Sprintf; false for anything else.
func textOf(e ast.Expr, consts map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		}
	case *ast.Ident:
		s, ok := consts[e.Name]
		return s, ok
	case *ast.CallExpr:
		if name, recv := callee(e.Fun); name == "Sprintf" && recv == "fmt" && len(e.Args) > 0 {
			return textOf(e.Args[0], consts)
		}
	case *ast.ParenExpr:
		return textOf(e.X, consts)
	}
	return "", false
}

// stringConsts are the string constants declared anywhere in files.
func stringConsts(files []*ast.File) map[string]string {
	consts := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			gd, ok := n.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				return true
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if s, ok := textOf(vs.Values[i], nil); ok {
							consts[name.Name] = s
						}
					}
				}
			}
			return true
		})
	}
	return consts
}

func TestSourceMessagesHaveChinese(t *testing.T) {
	msgs := sourceMessages(t, "services", "internal", "gateway", "cmd")
	// The CLI's own statuses never reach a client.
	msgs = slices.DeleteFunc(msgs, func(m sourceMessage) bool { return m.message && strings.Contains(m.pos, "/cmd/") })
	if len(msgs) < 100 {
		t.Fatalf("found only %d messages in the source: is the walk broken?", len(msgs))
	}
	for _, m := range msgs {
		if m.text == "" {
			continue // a helper's "nothing wrong"
		}
		switch {
		case m.message:
			if _, ok := textZH(messagesZH, messageFormats, m.text); !ok {
				t.Errorf("%s: status message %q has no Chinese in catalog_zh.go (messagesZH)", m.pos, m.text)
			}
		case m.reason && !hasKey(reasonsZH, m.text):
			t.Errorf("%s: reason %q has no Chinese in catalog_zh.go (reasonsZH)", m.pos, m.text)
		case !m.reason && !hasKey(descriptionsZH, m.text):
			t.Errorf("%s: description %q has no Chinese in catalog_zh.go (descriptionsZH)", m.pos, m.text)
		}
	}
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
