// Package ociimage builds container images from this repository's
// Dockerfiles without a container engine or a registry: it reads the
// Dockerfile, runs its builder stage's go build line on this machine, and
// packs the final stage as a docker-archive tarball (the format of
// "docker save") that "ctr -n k8s.io images import" of containerd 1.6 and
// later imports under the image's name.
//
// The Dockerfile stays the one recipe: the image built here has the file
// layout, user, entrypoint, ports, environment and working directory that
// the Dockerfile's final stage gives, and a Dockerfile this package cannot
// build faithfully is an error naming file:line, never a guess.
//
// # The Dockerfile subset
//
// Comments, blank lines, line continuations (a trailing backslash) and
// parser directives other than a non-default escape are understood. The
// instructions are:
//
//   - FROM image [AS name]. The last stage is the image and must be
//     FROM scratch (there is no registry to pull a base image from). The
//     earlier stages are builder stages; their base image is not pulled:
//     this machine's Go toolchain stands in for it.
//   - RUN in a builder stage: either "go mod download", which is skipped (the
//     module cache serves the build), or "[VAR=value ...] go build ... -o
//     FILE PACKAGES", run with its environment and flags exactly as written
//     from the build context (the repository root), with GOOS=linux and the
//     requested GOARCH, and -o pointed into a directory that stands for the
//     stage's filesystem. The line must be one plain command: quotes are
//     understood, expansions and shell operators are errors. RUN in the final
//     stage is an error (scratch has no shell).
//   - COPY in a builder stage (the source tree): ignored, the build context is
//     used as it is. COPY --from=STAGE SRC DEST in the final stage: SRC must be
//     a go build output of that stage, or /etc/ssl/certs/ca-certificates.crt,
//     which is taken from this machine. Binaries get mode 0755, other files
//     0644, all owned by root. COPY from the build context into the final
//     stage, from an image, with several sources or with other flags is an
//     error.
//   - USER uid[:gid] (numeric: scratch has no /etc/passwd), EXPOSE port[/proto],
//     ENTRYPOINT in exec form (a JSON array; the shell form is an error),
//     WORKDIR and ENV (KEY=value ... or KEY value) in the final stage become
//     the image configuration. In a builder stage ENV applies to its go build
//     and WORKDIR places a relative -o; USER, EXPOSE and ENTRYPOINT there are
//     ignored, as they are for an image nobody runs.
//
// Anything else (ARG, ADD, CMD, LABEL, variable expansion, heredocs, ...) is
// an error.
//
// Output is deterministic: files and directories carry a fixed modification
// time (the Unix epoch) and the image a fixed creation time, so the same
// sources and toolchain give the same image ID and the same archive bytes.
package ociimage
