package sidecarclient

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that parse never panics, accepts only what a JSON decoder
// reads the same way, and keeps its messages short whatever the body.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "sidecar", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if filepath.Ext(name) == ".md" {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		l, flt := parse(body)
		if flt != nil {
			if flt.kind != ErrMalformed && flt.kind != ErrLeaderUnknown {
				t.Fatalf("fault kind %v", flt.kind)
			}
			if n := len(flt.what) + len(flt.hint); n > 600 {
				t.Fatalf("message of %d bytes: %s: %s", n, flt.what, flt.hint)
			}
			if flt.kind == ErrMalformed && (l != Leader{}) {
				t.Fatalf("malformed answer returned %+v", l)
			}
			if flt.kind == ErrLeaderUnknown && l.Name != "" {
				t.Fatalf("unknown leader returned name %q", l.Name)
			}
			return
		}
		if l.Name == "" || len(l.Name) > maxNameBytes || !utf8.ValidString(l.Name) {
			t.Fatalf("accepted name %q", l.Name)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", body, err)
		}
		if m["name"] != l.Name {
			t.Fatalf("name %q, encoding/json reads %q", l.Name, m["name"])
		}
	})
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		body string
		name string
		kind error  // nil: success
		what string // substring of the fault
	}{
		{body: `{"name":"pod-a"}`, name: "pod-a"},
		{body: " \r\n\t{\"name\":\"pod-a\"} \n", name: "pod-a"},
		{body: `{"name":"pod-a","last_update":null}`, name: "pod-a"},
		{body: `{"name":"pod-a","last_update":""}`, name: "pod-a"},
		{body: `{"name":"pod-a","other":[1,{"name":"x"}]}`, name: "pod-a"},
		{body: `{"name":"pod-\u00e9"}`, name: "pod-é"},
		{body: `{"name":" pod-a"}`, name: " pod-a"}, // kept as sent; compared exactly
		{body: ``, kind: ErrMalformed, what: "empty body"},
		{body: "  \n", kind: ErrMalformed, what: "empty body"},
		{body: `null`, kind: ErrMalformed, what: "not a JSON object"},
		{body: `"pod-a"`, kind: ErrMalformed, what: "not a JSON object"},
		{body: `{"name":"a"}{"name":"b"}`, kind: ErrMalformed, what: "trailing data"},
		{body: `{"name":"a",}`, kind: ErrMalformed, what: "not valid JSON"},
		{body: `{"name":true}`, kind: ErrMalformed, what: `name is "true", want a JSON string`},
		{body: `{"last_update":5,"name":"a"}`, kind: ErrMalformed, what: "last_update is \"5\", want a JSON string"},
		{body: `{"Name":"pod-a"}`, kind: ErrMalformed, what: `"Name" but no "name"`},
		{body: `{"name":"` + strings.Repeat("a", maxNameBytes+1) + `"}`, kind: ErrMalformed, what: "name is 513 bytes long"},
		{body: `{"name":""}`, kind: ErrLeaderUnknown},
		{body: `{"name":null}`, kind: ErrLeaderUnknown},
		{body: `{"term":3}`, kind: ErrLeaderUnknown},
	} {
		l, f := parse([]byte(tt.body))
		var kind error
		if f != nil {
			kind = f.kind
		}
		if !errors.Is(kind, tt.kind) || l.Name != tt.name {
			t.Errorf("parse(%.40q) = %q, %+v; want %q, %v", tt.body, l.Name, f, tt.name, tt.kind)
			continue
		}
		if f != nil && !strings.Contains(f.what, tt.what) {
			t.Errorf("parse(%.40q): %q does not contain %q", tt.body, f.what, tt.what)
		}
	}
}
