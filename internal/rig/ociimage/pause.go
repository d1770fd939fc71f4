package ociimage

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// pauseMain is the pause program's source, built in a module of its own so
// that BuildPause works from any directory.
//
//go:embed pause/main.go
var pauseMain []byte

// PauseUser is the user the pause image runs as, as in the upstream image.
const PauseUser = "65535:65535"

// PauseOptions say where BuildPause writes the sandbox image.
type PauseOptions struct {
	Ref    string // image reference, e.g. registry.k8s.io/pause:3.10
	Output string // archive file to write, replaced if it exists
	GOARCH string // the image's architecture; "" is runtime.GOARCH
}

// BuildPause builds the sandbox ("pause") image a kubelet starts for every
// Pod: the program in pause/ (which waits for SIGTERM or SIGINT and exits 0),
// built with CGO_ENABLED=0 -trimpath -ldflags="-s -w", as /pause with mode
// 0755, entrypoint ["/pause"] and user PauseUser, written to opts.Output as
// a docker-archive tarball naming it opts.Ref.
func BuildPause(ctx context.Context, opts PauseOptions) (*Result, error) {
	if opts.Output == "" || opts.Ref == "" {
		return nil, errors.New("ociimage: PauseOptions.Output and PauseOptions.Ref are required")
	}
	arch := opts.GOARCH
	if arch == "" {
		arch = runtime.GOARCH
	}
	tmp, err := os.MkdirTemp("", "ociimage-pause-")
	if err != nil {
		return nil, fmt.Errorf("build the pause image: %w", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module pause\n\ngo 1.22\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), pauseMain, 0o644); err != nil {
		return nil, err
	}
	bin := filepath.Join(tmp, "pause")
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", bin, "."}
	if err := goBuild(ctx, src, []string{"CGO_ENABLED=0"}, args, bin, arch); err != nil {
		return nil, fmt.Errorf("build the pause program: %w", err)
	}
	cfg := Config{User: PauseUser, Entrypoint: []string{"/pause"}}
	return writeImage(opts.Ref, arch, cfg, []layerFile{{path: "/pause", mode: 0o755, source: bin}}, nil, opts.Output)
}
