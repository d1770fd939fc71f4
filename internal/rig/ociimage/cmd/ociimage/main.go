// Command ociimage builds a container image archive from one of this
// repository's Dockerfiles, or the pause image, without a container engine
// (see package internal/rig/ociimage). Run it from the repository root:
//
//	go run ./internal/rig/ociimage/cmd/ociimage -f examples/monolith/Dockerfile -t example.com/monolith:1.0.0 -o monolith.tar
//	go run ./internal/rig/ociimage/cmd/ociimage -pause -t registry.k8s.io/pause:3.10 -o pause.tar
//
// and load the result with "ctr -n k8s.io images import FILE" (or docker load).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/leaderjob/leaderjob/internal/rig/ociimage"
)

func main() {
	var (
		dockerfile = flag.String("f", "", "the Dockerfile to build")
		root       = flag.String("C", ".", "the build context, the repository root")
		ref        = flag.String("t", "", "image reference, e.g. example.com/monolith:1.0.0")
		out        = flag.String("o", "", "archive file to write")
		arch       = flag.String("arch", "", "GOARCH of the image (default this machine's)")
		pause      = flag.Bool("pause", false, "build the pause (sandbox) image instead of a Dockerfile")
	)
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: ociimage (-f Dockerfile | -pause) -t REF -o FILE [-C DIR] [-arch GOARCH]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *ref == "" || *out == "" || (*dockerfile == "") == !*pause || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	var (
		res *ociimage.Result
		err error
	)
	if *pause {
		res, err = ociimage.BuildPause(ctx, ociimage.PauseOptions{Ref: *ref, Output: *out, GOARCH: *arch})
	} else {
		res, err = ociimage.Build(ctx, ociimage.Options{Root: *root, Dockerfile: *dockerfile, Ref: *ref, Output: *out, GOARCH: *arch})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s %s, %.1f MiB, in %s\n", *out, res.Ref, res.ID, float64(res.Size)/(1<<20), time.Since(start).Round(10*time.Millisecond))
}
