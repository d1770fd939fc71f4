package ociimage

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Recipe is what a Dockerfile asks for, in the terms Build carries out.
type Recipe struct {
	Builds []GoBuild // go build lines of the stages the image copies from, in file order
	Files  []File    // the image's files, sorted by Path
	Dirs   []string  // directories the image has besides its files' parents (WORKDIR), sorted
	Config Config
}

// GoBuild is a builder stage's go build line.
type GoBuild struct {
	Line   int
	Stage  int      // index of the stage it runs in
	Env    []string // VAR=value: the stage's ENV so far, then the assignments before "go"
	Args   []string // the words after "go", starting with "build", as written
	Output string   // the -o file, absolute in the stage's filesystem
	outArg int      // index in Args of the word holding the -o value
}

// File is one file of the image.
type File struct {
	Line   int         // the COPY that puts it there
	Path   string      // absolute path in the image
	Stage  int         // index of the stage it is copied from
	Source string      // absolute path in that stage
	Mode   fs.FileMode // permission bits
	Built  bool        // Source is the output of a GoBuild of Stage; else this machine's file (CACertificates)
}

// Config is the image configuration the final stage sets.
type Config struct {
	User         string
	Entrypoint   []string
	ExposedPorts []string // "8080/tcp", sorted
	Env          []string // KEY=value, in the order first set
	WorkingDir   string   // "" when the Dockerfile sets none
}

// CACertificates is the path of the TLS root certificates bundle, which a
// final stage may COPY --from any builder stage: it is taken from this
// machine (the golang images are Debian, as this machine is expected to be).
const CACertificates = "/etc/ssl/certs/ca-certificates.crt"

// hostFiles are the builder-stage paths that a COPY --from takes from this
// machine, with the mode they get in the image.
var hostFiles = map[string]fs.FileMode{CACertificates: 0o644}

// Recipe checks that d is within the subset Build can honour and returns
// what to build. Errors name the Dockerfile and line.
func (d *Dockerfile) Recipe() (*Recipe, error) {
	final := len(d.Stages) - 1
	fin := d.Stages[final]
	if fin.From != "scratch" {
		return nil, errorf(d.Path, fin.Line, "the final stage is FROM %s; only FROM scratch can be built without a registry", fin.From)
	}
	builds := make([][]GoBuild, final)
	for i := range final {
		b, err := d.builderStage(i)
		if err != nil {
			return nil, err
		}
		builds[i] = b
	}

	r := &Recipe{}
	files := map[string]File{}
	dirs := map[string]bool{}
	workdir := "/"
	var entryLine int
	for _, in := range fin.Instructions {
		if strings.Contains(in.Args, "$") {
			return nil, errorf(d.Path, in.Line, "%s %s: variable expansion is not supported", in.Cmd, in.Args)
		}
		switch in.Cmd {
		case "COPY":
			f, err := d.finalCopy(in, workdir, builds)
			if err != nil {
				return nil, err
			}
			files[f.Path] = f
		case "USER":
			if !numericUser(in.Args) {
				return nil, errorf(d.Path, in.Line, "USER %s: give a numeric uid or uid:gid (scratch has no /etc/passwd to look names up in, and runAsNonRoot needs a number)", in.Args)
			}
			r.Config.User = in.Args
		case "EXPOSE":
			for _, p := range strings.Fields(in.Args) {
				port, err := exposedPort(p)
				if err != nil {
					return nil, errorf(d.Path, in.Line, "EXPOSE %s: %v", p, err)
				}
				if !slices.Contains(r.Config.ExposedPorts, port) {
					r.Config.ExposedPorts = append(r.Config.ExposedPorts, port)
				}
			}
		case "ENTRYPOINT":
			var argv []string
			if !strings.HasPrefix(in.Args, "[") || json.Unmarshal([]byte(in.Args), &argv) != nil {
				return nil, errorf(d.Path, in.Line, `ENTRYPOINT %s: the shell form needs /bin/sh, which scratch lacks; write the exec form, a JSON array of strings such as ["/program"]`, in.Args)
			}
			if len(argv) == 0 || !path.IsAbs(argv[0]) {
				return nil, errorf(d.Path, in.Line, "ENTRYPOINT %s: name the program by its absolute path (the image has no PATH to search)", in.Args)
			}
			r.Config.Entrypoint, entryLine = argv, in.Line
		case "WORKDIR":
			workdir = resolve(workdir, in.Args)
			r.Config.WorkingDir = workdir
			if workdir != "/" {
				dirs[workdir] = true
			}
		case "ENV":
			env, err := parseEnv(in.Args)
			if err != nil {
				return nil, errorf(d.Path, in.Line, "ENV %s: %v", in.Args, err)
			}
			r.Config.Env = setEnv(r.Config.Env, env)
		case "RUN":
			return nil, errorf(d.Path, in.Line, "RUN in the final stage: scratch has no shell or tools to run it; do the work in a builder stage and COPY --from it")
		}
	}
	if r.Config.Entrypoint == nil {
		return nil, errorf(d.Path, fin.Line, "the final stage has no ENTRYPOINT")
	}
	if _, ok := files[r.Config.Entrypoint[0]]; !ok {
		return nil, errorf(d.Path, entryLine, "ENTRYPOINT runs %s, which no COPY of the final stage puts there", r.Config.Entrypoint[0])
	}
	slices.Sort(r.Config.ExposedPorts)

	used := map[int]bool{}
	for _, f := range files {
		r.Files = append(r.Files, f)
		used[f.Stage] = used[f.Stage] || f.Built
	}
	slices.SortFunc(r.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for i, b := range builds {
		if used[i] {
			r.Builds = append(r.Builds, b...)
		}
	}
	for dir := range dirs {
		r.Dirs = append(r.Dirs, dir)
	}
	slices.Sort(r.Dirs)
	return r, nil
}

// builderStage checks the stage at index i and returns its go build lines.
func (d *Dockerfile) builderStage(i int) ([]GoBuild, error) {
	s := d.Stages[i]
	if _, ok := d.stage(s.From, i); ok {
		return nil, errorf(d.Path, s.Line, "FROM %s: a stage built on an earlier stage is not supported", s.From)
	}
	var (
		builds  []GoBuild
		env     []string
		workdir = "/"
	)
	for _, in := range s.Instructions {
		switch in.Cmd {
		case "WORKDIR":
			if strings.Contains(in.Args, "$") {
				return nil, errorf(d.Path, in.Line, "WORKDIR %s: variable expansion is not supported", in.Args)
			}
			workdir = resolve(workdir, in.Args)
		case "ENV":
			kv, err := parseEnv(in.Args)
			if err != nil {
				return nil, errorf(d.Path, in.Line, "ENV %s: %v", in.Args, err)
			}
			env = setEnv(env, kv)
		case "COPY":
			if strings.Contains(in.Args, "--from") {
				return nil, errorf(d.Path, in.Line, "COPY --from into a builder stage is not supported; only the final stage copies between stages")
			}
			// The source tree: the build context is used as it is.
		case "RUN":
			b, err := goBuildLine(in.Args)
			if err != nil {
				return nil, errorf(d.Path, in.Line, "RUN %s: %v", in.Args, err)
			}
			if b == nil {
				continue // go mod download
			}
			b.Line, b.Stage = in.Line, i
			b.Env = setEnv(slices.Clone(env), b.Env)
			b.Output = resolve(workdir, b.Output)
			builds = append(builds, *b)
		}
	}
	return builds, nil
}

// finalCopy reads a COPY of the final stage.
func (d *Dockerfile) finalCopy(in Instruction, workdir string, builds [][]GoBuild) (File, error) {
	if strings.HasPrefix(in.Args, "[") {
		return File{}, errorf(d.Path, in.Line, "COPY %s: the JSON form is not supported; write COPY --from=STAGE SRC DEST", in.Args)
	}
	words := strings.Fields(in.Args)
	from := ""
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		v, ok := strings.CutPrefix(words[0], "--from=")
		if !ok {
			return File{}, errorf(d.Path, in.Line, "COPY %s: only the --from flag is supported (modes and owner are fixed: binaries 0755, other files 0644, root)", words[0])
		}
		from, words = v, words[1:]
	}
	if from == "" {
		return File{}, errorf(d.Path, in.Line, "COPY %s: copying from the build context into the final stage is not supported; build the file in a builder stage and COPY --from=that stage", in.Args)
	}
	if len(words) != 2 {
		return File{}, errorf(d.Path, in.Line, "COPY %s: want exactly one source and one destination", in.Args)
	}
	stage, ok := d.stage(from, len(d.Stages)-1)
	if !ok {
		return File{}, errorf(d.Path, in.Line, "COPY --from=%s: no earlier stage has that name (copying from an image would need a registry)", from)
	}
	src, dst := words[0], words[1]
	if strings.ContainsAny(src, "*?[") {
		return File{}, errorf(d.Path, in.Line, "COPY %s: wildcards are not supported; name the file", src)
	}
	src = path.Clean("/" + src)
	if strings.HasSuffix(dst, "/") {
		dst = path.Join(dst, path.Base(src))
	}
	f := File{Line: in.Line, Path: resolve(workdir, dst), Stage: stage, Source: src}
	if f.Path == "/" {
		return File{}, errorf(d.Path, in.Line, "COPY %s: the destination is the root directory; name the file", in.Args)
	}
	var outputs []string
	for _, b := range builds[stage] {
		if b.Output == src {
			f.Mode, f.Built = 0o755, true
			return f, nil
		}
		outputs = append(outputs, b.Output)
	}
	if mode, ok := hostFiles[src]; ok {
		f.Mode = mode
		return f, nil
	}
	return File{}, errorf(d.Path, in.Line, "COPY --from=%s %s: not a go build output of that stage (%s) nor %s, which is taken from this machine",
		from, src, strings.Join(outputs, ", "), CACertificates)
}

// goBuildLine reads a builder stage's RUN: nil for go mod download, the
// build for [VAR=value ...] go build ..., an error for anything else.
func goBuildLine(args string) (*GoBuild, error) {
	var words []string
	if strings.HasPrefix(args, "[") {
		if err := json.Unmarshal([]byte(args), &words); err != nil {
			return nil, fmt.Errorf("exec form: %w", err)
		}
	} else {
		var err error
		if words, err = shellWords(args); err != nil {
			return nil, fmt.Errorf("%w; keep the line one plain command", err)
		}
	}
	b := &GoBuild{}
	for len(words) > 0 && isAssignment(words[0]) {
		b.Env, words = append(b.Env, words[0]), words[1:]
	}
	switch {
	case len(words) >= 3 && words[0] == "go" && words[1] == "mod" && words[2] == "download":
		return nil, nil
	case len(words) < 2 || words[0] != "go" || words[1] != "build":
		return nil, fmt.Errorf(`only "go mod download" and "[VAR=value ...] go build ..." can run without a container`)
	}
	b.Args = words[1:]
	b.outArg = -1
	for i, w := range b.Args {
		switch {
		case w == "-o" || w == "--o":
			if i+1 < len(b.Args) {
				b.outArg = i + 1
			}
		case strings.HasPrefix(w, "-o=") || strings.HasPrefix(w, "--o="):
			b.outArg = i
		}
	}
	if b.outArg < 0 {
		return nil, fmt.Errorf("go build without -o: name the output file, as in -o /out/NAME")
	}
	out := b.Args[b.outArg]
	if _, v, ok := strings.Cut(out, "="); ok && strings.HasPrefix(out, "-") {
		out = v
	}
	if out == "" || strings.HasSuffix(out, "/") {
		return nil, fmt.Errorf("go build -o %q: name the output file, not a directory", out)
	}
	b.Output = out
	return b, nil
}

// WithOutput returns b's arguments with the -o file replaced by file.
func (b GoBuild) WithOutput(file string) []string {
	args := slices.Clone(b.Args)
	if w := args[b.outArg]; strings.HasPrefix(w, "-") {
		flag, _, _ := strings.Cut(w, "=")
		args[b.outArg] = flag + "=" + file
	} else {
		args[b.outArg] = file
	}
	return args
}
