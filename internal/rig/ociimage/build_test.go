package ociimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The repository root, the examples' build context.
const root = "../../.."

// example is one of the repository's Dockerfiles and what its image must be.
type example struct {
	name, dockerfile, ref string
	entrypoint, ports     []string
}

var examples = []example{
	{"monolith", "examples/monolith/Dockerfile", "example.com/monolith:1.0.0", []string{"/monolith"}, []string{"8080/tcp"}},
	{"elector", "cmd/leaderjob-elector/Dockerfile", "leaderjob-elector:test", []string{"/leaderjob-elector"}, nil},
}

// archives is the directory the images are built into, once per test
// binary; TestMain removes it.
var archives string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ociimage-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	archives = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type builtImage struct {
	once sync.Once
	file string
	res  *Result
	took time.Duration
	err  error
}

var built sync.Map // name -> *builtImage

// image builds the example or the pause image called name, the first time
// it is asked for, and returns its archive.
func image(t *testing.T, name string) (string, *Result) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds images (-short)")
	}
	v, _ := built.LoadOrStore(name, &builtImage{})
	b := v.(*builtImage)
	b.once.Do(func() {
		b.file = filepath.Join(archives, name+".tar")
		start := time.Now()
		if name == "pause" {
			b.res, b.err = BuildPause(context.Background(), PauseOptions{Ref: "registry.k8s.io/pause:3.10", Output: b.file})
		} else {
			i := slices.IndexFunc(examples, func(e example) bool { return e.name == name })
			ex := examples[i]
			b.res, b.err = Build(context.Background(), Options{
				Root: root, Dockerfile: filepath.Join(root, ex.dockerfile), Ref: ex.ref, Output: b.file,
			})
		}
		b.took = time.Since(start)
	})
	if b.err != nil {
		t.Fatalf("build %s: %v", name, b.err)
	}
	t.Logf("%s: %s %s, %.2f MiB, built in %v", name, b.res.Ref, b.res.ID, float64(b.res.Size)/(1<<20), b.took.Round(time.Millisecond))
	return b.file, b.res
}

// The examples' images are what their Dockerfiles say: config, one layer
// holding exactly the final stage's files, static linux binaries, the
// machine's CA certificates, fixed times.
func TestBuildExamples(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			file, res := image(t, ex.name)
			img, err := Inspect(file)
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := NormalizeRef(ex.ref)
			if res.Ref != ref || !slices.Equal(img.Refs, []string{ref}) {
				t.Errorf("the archive names the image %q (result %q), want %q", img.Refs, res.Ref, ref)
			}
			if img.ID != res.ID {
				t.Errorf("image ID %s, Build said %s", img.ID, res.ID)
			}
			if img.OS != "linux" || img.Architecture != runtime.GOARCH {
				t.Errorf("platform %s/%s, want linux/%s", img.OS, img.Architecture, runtime.GOARCH)
			}
			if img.Config.User != "65532:65532" || !slices.Equal(img.Config.Entrypoint, ex.entrypoint) || !slices.Equal(img.Config.ExposedPorts, ex.ports) {
				t.Errorf("config %+v, want user 65532:65532, entrypoint %q, ports %q", img.Config, ex.entrypoint, ex.ports)
			}
			d, err := ParseFile(filepath.Join(root, ex.dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			r, err := d.Recipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Verify(img); err != nil {
				t.Error(err)
			}
			var paths []string
			for _, e := range img.Layers[0] {
				paths = append(paths, e.Path)
				if !e.ModTime.Equal(epoch) {
					t.Errorf("%s modified at %v, want the epoch", e.Path, e.ModTime)
				}
			}
			want := []string{"/etc", "/etc/ssl", "/etc/ssl/certs", CACertificates, ex.entrypoint[0]}
			if !slices.Equal(paths, want) {
				t.Errorf("layer holds %q, want %q", paths, want)
			}
			for _, e := range img.Layers[0] {
				switch e.Path {
				case CACertificates:
					host, err := os.ReadFile(CACertificates)
					if err != nil || !bytes.Equal(e.Data, host) || e.Mode != 0o644 {
						t.Errorf("%s: mode %v, %d bytes, want 0644 and this machine's file (%v)", e.Path, e.Mode, len(e.Data), err)
					}
				case ex.entrypoint[0]:
					if e.Mode != 0o755 {
						t.Errorf("%s: mode %v, want 0755", e.Path, e.Mode)
					}
					checkStaticELF(t, e.Data, runtime.GOARCH)
				}
			}
		})
	}
}

// checkStaticELF checks data is a static linux executable for arch,
// stripped of its symbol table.
func checkStaticELF(t *testing.T, data []byte, arch string) {
	t.Helper()
	if err := CheckStatic(bytes.NewReader(data), arch); err != nil {
		t.Fatalf("the binary is %v", err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Symbols(); !errors.Is(err, elf.ErrNoSymbols) {
		t.Errorf("the binary has a symbol table (want -ldflags=-s): %v", err)
	}
}

// The same sources and toolchain give the same image, byte for byte.
func TestBuildIsDeterministic(t *testing.T) {
	t.Parallel()
	first, res := image(t, "monolith")
	second := filepath.Join(t.TempDir(), "again.tar")
	again, err := Build(context.Background(), Options{
		Root: root, Dockerfile: filepath.Join(root, examples[0].dockerfile), Ref: examples[0].ref, Output: second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != res.ID {
		t.Errorf("image ID %s, then %s", res.ID, again.ID)
	}
	if a, b := fileDigest(t, first), fileDigest(t, second); a != b {
		t.Errorf("archives differ: sha256 %s, then %s", a, b)
	}
}

func fileDigest(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// The pause image holds only /pause, runs it as 65535:65535, and /pause
// exits 0 on SIGTERM or SIGINT.
func TestBuildPause(t *testing.T) {
	t.Parallel()
	file, res := image(t, "pause")
	img, err := Inspect(file)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(img.Refs, []string{"registry.k8s.io/pause:3.10"}) || img.ID != res.ID {
		t.Errorf("refs %q, ID %s (Build said %s)", img.Refs, img.ID, res.ID)
	}
	if img.Config.User != "65535:65535" || !slices.Equal(img.Config.Entrypoint, []string{"/pause"}) || img.Architecture != runtime.GOARCH {
		t.Errorf("config %+v on %s", img.Config, img.Architecture)
	}
	if len(img.Layers) != 1 || len(img.Layers[0]) != 1 || img.Layers[0][0].Path != "/pause" ||
		img.Layers[0][0].Mode != 0o755 || img.Layers[0][0].UID != 0 {
		t.Fatalf("layers %v, want one holding /pause, 0755, owned by root", img.Layers)
	}
	bin := img.Layers[0][0].Data
	checkStaticELF(t, bin, runtime.GOARCH)

	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The Go runtime handles SIGTERM from its start, before main asks
		// for it, so /proc cannot tell when pause is ready: give it time.
		time.Sleep(300 * time.Millisecond)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("pause after %v: %v, want exit status 0", sig, err)
		}
	}
}

// The pause image cross-builds: an arm64 image on amd64 and the reverse.
func TestBuildPauseOtherArch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image (-short)")
	}
	t.Parallel()
	arch := "arm64"
	if runtime.GOARCH == arch {
		arch = "amd64"
	}
	file := filepath.Join(t.TempDir(), "pause.tar")
	if _, err := BuildPause(context.Background(), PauseOptions{Ref: "pause:" + arch, Output: file, GOARCH: arch}); err != nil {
		t.Fatal(err)
	}
	img, err := Inspect(file)
	if err != nil {
		t.Fatal(err)
	}
	if img.Architecture != arch || !slices.Equal(img.Refs, []string{"docker.io/library/pause:" + arch}) {
		t.Errorf("architecture %s, refs %q; want %s", img.Architecture, img.Refs, arch)
	}
	checkStaticELF(t, img.Layers[0][0].Data, arch)
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dockerfile := filepath.Join(dir, "Dockerfile")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(dockerfile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	out := filepath.Join(dir, "out.tar")

	write("FROM golang AS b\nRUN GOARCH=riscv64 go build -o /out/p ./internal/rig/ociimage/pause\nFROM scratch\nCOPY --from=b /out/p /p\nENTRYPOINT [\"/p\"]\n")
	_, err := Build(ctx, Options{Root: root, Dockerfile: dockerfile, Ref: "p", Output: out, GOARCH: "amd64"})
	if err == nil || !strings.Contains(err.Error(), dockerfile+":2: the build line sets GOARCH=riscv64, but the image is for linux/amd64") {
		t.Errorf("GOARCH on the build line: %v", err)
	}

	write("FROM scratch\nENTRYPOINT /p\n")
	_, err = Build(ctx, Options{Root: root, Dockerfile: dockerfile, Ref: "p", Output: out})
	var de *Error
	if !errors.As(err, &de) || de.Line != 2 {
		t.Errorf("shell-form ENTRYPOINT: %v, want an *Error at line 2", err)
	}

	if _, err := Build(ctx, Options{Root: root, Dockerfile: dockerfile, Output: out}); err == nil {
		t.Error("no error without a reference")
	}
	if _, err := Build(ctx, Options{Root: root, Dockerfile: filepath.Join(dir, "missing"), Ref: "p", Output: out}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing Dockerfile: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed build left %s: %v", out, err)
	}
}

// A dynamically linked program, such as this machine's ls, is refused
// with a hint.
func TestCheckStatic(t *testing.T) {
	t.Parallel()
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls")
	}
	f, err := os.Open(ls)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := CheckStatic(f, runtime.GOARCH); err == nil || !strings.Contains(err.Error(), "dynamically linked (PT_INTERP), and scratch has no C library: build with CGO_ENABLED=0") {
		t.Errorf("CheckStatic(%s) = %v, want a dynamically linked error", ls, err)
	}
	if err := CheckStatic(strings.NewReader("#!/bin/sh\n"), runtime.GOARCH); err == nil {
		t.Error("CheckStatic(a script) = nil")
	}
}
