package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/leaderjob/leaderjob/internal/rig/ociimage"
)

// There is no container engine here. internal/rig/ociimage reads this
// Dockerfile, runs its go build line and packs the final stage as an image
// archive (the test cluster loads it); these tests check what the
// Dockerfile asks for, and that the image built from it is that.

const dockerfile = "Dockerfile"

// load parses the Dockerfile and checks it is within what ociimage builds.
func load(t *testing.T) (*ociimage.Dockerfile, *ociimage.Recipe) {
	t.Helper()
	d, r, err := ociimage.Load(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	return d, r
}

// The image is a non-root static binary on scratch, with CA certificates.
func TestDockerfileFinalStage(t *testing.T) {
	t.Parallel()
	d, r := load(t) // the final stage is FROM scratch, or Recipe fails

	uid, gid, hasGroup := strings.Cut(r.Config.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric, non-zero user id (runAsNonRoot needs a number)", r.Config.User)
	}
	if _, err := strconv.Atoi(gid); hasGroup && err != nil {
		t.Errorf("USER %s: want a numeric group id", r.Config.User)
	}
	if !slices.Equal(r.Config.Entrypoint, []string{"/monolith"}) {
		t.Errorf("ENTRYPOINT %q, want [\"/monolith\"]", r.Config.Entrypoint)
	}
	if !slices.Equal(r.Config.ExposedPorts, []string{"8080/tcp"}) {
		t.Errorf("EXPOSE %q, want 8080 (the operations endpoints)", r.Config.ExposedPorts)
	}

	if len(r.Builds) != 1 {
		t.Fatalf("%d go build lines, want 1", len(r.Builds))
	}
	b := r.Builds[0]
	if d.Stages[b.Stage].Name == "" {
		t.Errorf("%s:%d: the stage that runs go build has no name (FROM ... AS builder)", dockerfile, b.Line)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("%s:%d: the build line does not set CGO_ENABLED=0", dockerfile, b.Line)
	}
	for _, flag := range []string{"-trimpath", "-ldflags=-s -w"} {
		if !slices.Contains(b.Args, flag) {
			t.Errorf("%s:%d: the build line lacks %s", dockerfile, b.Line, flag)
		}
	}
	files := map[string]ociimage.File{}
	for _, f := range r.Files {
		files[f.Path] = f
	}
	if f := files["/monolith"]; !f.Built || f.Source != b.Output {
		t.Errorf("final stage copies %q to /monolith, want the build's output %q", f.Source, b.Output)
	}
	if f, ok := files[ociimage.CACertificates]; !ok || f.Source != ociimage.CACertificates {
		t.Errorf("final stage does not copy %s from the builder", ociimage.CACertificates)
	}
}

// The builder's Go is at least the version go.mod asks for.
func TestDockerfileGoVersion(t *testing.T) {
	t.Parallel()
	d, r := load(t)
	builder := d.Stages[r.Builds[0].Stage]
	tag, ok := strings.CutPrefix(builder.From, "golang:")
	if !ok {
		t.Fatalf("builder is FROM %s, want golang:<version>", builder.From)
	}
	gomod, err := os.ReadFile("../go.mod") // the examples module
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, line := range strings.Split(string(gomod), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			want = strings.TrimSpace(v)
		}
	}
	if version(tag) < version(want) {
		t.Errorf("builder golang:%s is older than go.mod's go %s", tag, want)
	}
}

// Zone data is in the binary: scratch has no /usr/share/zoneinfo.
func TestMainEmbedsZoneData(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		if imp.Path.Value == `"time/tzdata"` {
			return
		}
	}
	t.Error(`main.go does not import _ "time/tzdata"; the image has no zone data of its own`)
}

// The image built from the Dockerfile has its user, entrypoint and files,
// and /monolith is a static binary without symbols or local paths.
func TestDockerfileBuildsImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example's image (-short)")
	}
	t.Parallel()
	_, r := load(t)
	root, err := filepath.Abs("../..") // the build context
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "monolith.tar")
	res, err := ociimage.Build(context.Background(), ociimage.Options{
		Root: root, Dockerfile: dockerfile, Ref: "example.com/monolith:1.0.0", Output: archive,
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ociimage.Inspect(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(img); err != nil {
		t.Error(err)
	}
	i := slices.IndexFunc(img.Layers[0], func(e ociimage.Entry) bool { return e.Path == "/monolith" })
	if i < 0 {
		t.Fatal("no /monolith in the image")
	}
	bin := img.Layers[0][i].Data
	if err := ociimage.CheckStatic(bytes.NewReader(bin), img.Architecture); err != nil {
		t.Errorf("/monolith is %v", err)
	}
	if f, err := elf.NewFile(bytes.NewReader(bin)); err != nil {
		t.Error(err)
	} else if _, err := f.Symbols(); !errors.Is(err, elf.ErrNoSymbols) {
		t.Errorf("the binary has a symbol table (want -s): %v", err)
	}
	if bytes.Contains(bin, []byte(root)) {
		t.Errorf("the binary contains the build directory %s (want -trimpath)", root)
	}
	t.Logf("%s %s: %.1f MiB archive, %.1f MiB binary", res.Ref, res.ID, float64(res.Size)/(1<<20), float64(len(bin))/(1<<20))
}

// version turns "1.26" or "1.26.0" into a comparable number.
func version(v string) int {
	n := 0
	parts := strings.SplitN(v, ".", 3)
	for i := 0; i < 3; i++ {
		x := 0
		if i < len(parts) {
			x, _ = strconv.Atoi(strings.TrimFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' }))
		}
		n = n*1000 + x
	}
	return n
}
