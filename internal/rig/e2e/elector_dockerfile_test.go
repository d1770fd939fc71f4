package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/leaderjob/leaderjob/internal/rig/ociimage"
)

// electorDockerfile is the leaderjob-elector command's Dockerfile, from this
// package's directory.
const electorDockerfile = "../../../cmd/leaderjob-elector/Dockerfile"

// loadElectorDockerfile parses the Dockerfile with the image builder, which
// builds the image from it, and checks it is within what the builder can build.
func loadElectorDockerfile(t *testing.T) (*ociimage.Dockerfile, *ociimage.Recipe) {
	t.Helper()
	d, r, err := ociimage.Load(electorDockerfile)
	if err != nil {
		t.Fatal(err)
	}
	return d, r
}

// The final stage is an empty image holding only the binary (and root
// certificates), run as a numeric non-root user through an exec-form
// ENTRYPOINT. (Recipe refuses a final stage not FROM scratch, a RUN there,
// a shell-form ENTRYPOINT, and an ENTRYPOINT no COPY provides.)
func TestElectorDockerfileFinalStage(t *testing.T) {
	_, r := loadElectorDockerfile(t)
	uid, gid, _ := strings.Cut(r.Config.User, ":")
	for _, id := range []string{uid, gid} {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("USER %q: want numeric, non-root user and group ids", r.Config.User)
		}
	}
	if !slices.Equal(r.Config.Entrypoint, []string{"/leaderjob-elector"}) {
		t.Errorf("ENTRYPOINT %q, want [\"/leaderjob-elector\"]", r.Config.Entrypoint)
	}
	var copied []string
	for _, f := range r.Files {
		copied = append(copied, f.Path)
	}
	if want := []string{ociimage.CACertificates, "/leaderjob-elector"}; !slices.Equal(copied, want) {
		t.Errorf("the final stage copies %q, want %q", copied, want)
	}
}

// The elector's build stage has at least the Go version the cmd module's go.mod asks for.
func TestElectorDockerfileGoVersion(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "..", "cmd", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, line := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			want = strings.TrimSpace(v)
		}
	}
	d, r := loadElectorDockerfile(t)
	image := d.Stages[r.Builds[0].Stage].From
	tag, ok := strings.CutPrefix(image, "golang:")
	if !ok {
		t.Fatalf("the build stage is FROM %s, want golang:<version>", image)
	}
	tag, _, _ = strings.Cut(tag, "-") // golang:1.26-alpine
	if !goVersionAtLeast(tag, want) {
		t.Errorf("FROM %s builds with Go %s, older than go.mod's go %s", image, tag, want)
	}
}

// goVersionAtLeast compares dotted versions numerically, missing parts as 0.
func goVersionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(w) || i < len(h); i++ {
		part := func(p []string) int {
			if i >= len(p) {
				return 0
			}
			n, _ := strconv.Atoi(p[i])
			return n
		}
		if a, b := part(h), part(w); a != b {
			return a > b
		}
	}
	return true
}

// The image built from the Dockerfile (its go build line run with exactly
// its flags and environment) has the Dockerfile's user, entrypoint and
// files, and the command in it is a static binary: no program interpreter,
// no shared libraries.
func TestElectorDockerfileBuildsImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command's image")
	}
	_, r := loadElectorDockerfile(t)
	archive := filepath.Join(t.TempDir(), "leaderjob-elector.tar")
	res, err := ociimage.Build(context.Background(), ociimage.Options{
		Root: filepath.Join("..", "..", ".."), Dockerfile: electorDockerfile, Ref: "leaderjob-elector:test", Output: archive,
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
	for _, e := range img.Layers[0] {
		if e.Path == "/leaderjob-elector" {
			if err := ociimage.CheckStatic(bytes.NewReader(e.Data), img.Architecture); err != nil {
				t.Errorf("%s is %v", e.Path, err)
			}
		}
	}
	t.Logf("%s %s: %.1f MiB archive", res.Ref, res.ID, float64(res.Size)/(1<<20))
}
