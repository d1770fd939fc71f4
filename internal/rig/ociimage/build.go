package ociimage

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Options say what Build builds and where it writes it.
type Options struct {
	Root       string // build context, the repository root: go build runs here; "" is the current directory
	Dockerfile string // path of the Dockerfile (relative to the current directory, as docker build -f)
	Ref        string // image reference, e.g. example.com/monolith:1.0.0; see NormalizeRef
	Output     string // archive file to write, replaced if it exists
	GOARCH     string // the image's architecture; "" is runtime.GOARCH. The OS is always linux.
}

// Result describes a written archive.
type Result struct {
	Ref  string // the normalized reference the archive names the image by
	ID   string // the image ID, the digest of its config: "sha256:..."
	Size int64  // size of the archive in bytes
}

// Build builds the image that opts.Dockerfile describes and writes it to
// opts.Output as a docker-archive tarball naming it opts.Ref.
//
// The builder stages' go build lines run as written, with their environment
// assignments and flags, from opts.Root, with GOOS=linux, GOARCH=opts.GOARCH,
// GOWORK set to the build context's go.work when it has one (as go finds it
// in a container that copied the context) and off otherwise, never the
// environment's,
// and GOFLAGS=-buildvcs=false (the output does not depend on the
// state of a git work tree), and with -o pointed into a temporary directory
// that stands for the stage's filesystem. Each binary must be statically
// linked. The final stage's COPY --from lines then fill the image's single
// layer; see the package documentation for the rules.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Output == "" || opts.Ref == "" {
		return nil, errors.New("ociimage: Options.Output and Options.Ref are required")
	}
	d, r, err := Load(opts.Dockerfile)
	if err != nil {
		return nil, err
	}
	arch := opts.GOARCH
	if arch == "" {
		arch = runtime.GOARCH
	}
	root := opts.Root
	if root == "" {
		root = "."
	}
	tmp, err := os.MkdirTemp("", "ociimage-")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", opts.Dockerfile, err)
	}
	defer os.RemoveAll(tmp)

	built := map[string]string{} // stage/output -> file on this machine
	for _, b := range r.Builds {
		file := filepath.Join(tmp, strconv.Itoa(b.Stage), filepath.FromSlash(b.Output))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return nil, err
		}
		if err := goBuild(ctx, root, b.Env, b.WithOutput(file), file, arch); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", d.Path, b.Line, err)
		}
		built[strconv.Itoa(b.Stage)+b.Output] = file
	}
	var files []layerFile
	for _, f := range r.Files {
		src := f.Source
		if f.Built {
			src = built[strconv.Itoa(f.Stage)+f.Source]
		} else if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("%s:%d: COPY of %s takes this machine's file, which is missing (install Debian's ca-certificates package): %w", d.Path, f.Line, f.Source, err)
		}
		files = append(files, layerFile{path: f.Path, mode: f.Mode, source: src})
	}
	return writeImage(opts.Ref, arch, r.Config, files, r.Dirs, opts.Output)
}

// goBuild runs go with args in dir, for linux/arch, with env added to this
// process's environment, and checks that bin, the -o file in args, is a
// static linux executable for arch.
func goBuild(ctx context.Context, dir string, env, args []string, bin, arch string) error {
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		if k == "GOOS" && v != "linux" || k == "GOARCH" && v != arch {
			return fmt.Errorf("the build line sets %s, but the image is for linux/%s", e, arch)
		}
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	work := "off"
	if abs, err := filepath.Abs(filepath.Join(dir, "go.work")); err == nil {
		if _, err := os.Stat(abs); err == nil {
			work = abs
		}
	}
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-buildvcs=false", "GOWORK="+work)
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s go %s: %w\n%s", strings.Join(env, " "), strings.Join(args, " "), err, out)
	}
	f, err := os.Open(bin)
	if err != nil {
		return fmt.Errorf("the build output: %w", err)
	}
	defer f.Close()
	if err := CheckStatic(f, arch); err != nil {
		return fmt.Errorf("the build output is %w", err)
	}
	return nil
}

// elfMachine maps GOARCH values to the ELF machine of their executables.
var elfMachine = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM, "386": elf.EM_386,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// CheckStatic reports whether r holds a statically linked ELF executable
// for linux/arch, which is what runs on scratch, and if not, why.
func CheckStatic(r io.ReaderAt, arch string) error {
	f, err := elf.NewFile(r)
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return fmt.Errorf("not a linux executable (ELF %v, %v)", f.Type, f.OSABI)
	}
	if m, ok := elfMachine[arch]; ok && f.Machine != m {
		return fmt.Errorf("an executable for %v, not %s", f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("dynamically linked (%v), and scratch has no C library: build with CGO_ENABLED=0", p.Type)
		}
	}
	return nil
}
