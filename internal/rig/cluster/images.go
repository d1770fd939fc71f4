package cluster

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/leaderjob/leaderjob/internal/rig/ociimage"
)

// The images the examples' manifests name, built from their Dockerfiles.
var exampleImages = []struct{ dockerfile, ref string }{
	{"examples/monolith/Dockerfile", "example.com/monolith:1.0.0"},
	{"cmd/leaderjob-elector/Dockerfile", "example.com/leaderjob-elector:1.0.0"},
}

// BuildImages builds the sandbox image and the examples' images (the
// names examples/kubernetes uses) from the repository at root into
// archives in dir, and returns their paths for [Options.Images].
func BuildImages(ctx context.Context, root, dir string) ([]string, error) {
	pause := filepath.Join(dir, "pause.tar")
	if _, err := ociimage.BuildPause(ctx, ociimage.PauseOptions{Ref: PauseImage, Output: pause}); err != nil {
		return nil, fmt.Errorf("cluster: building the pause image: %w", err)
	}
	archives := []string{pause}
	for i, img := range exampleImages {
		out := filepath.Join(dir, fmt.Sprintf("image-%d.tar", i))
		if _, err := ociimage.Build(ctx, ociimage.Options{
			Root: root, Dockerfile: filepath.Join(root, img.dockerfile), Ref: img.ref, Output: out,
		}); err != nil {
			return nil, fmt.Errorf("cluster: building %s from %s: %w", img.ref, img.dockerfile, err)
		}
		archives = append(archives, out)
	}
	return archives, nil
}
