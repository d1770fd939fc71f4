package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// There is no container engine to build the image with, so these tests
// check the Dockerfile's final stage and run its go build line (parsed from
// the file: flags and environment exactly as written) on this machine,
// then check that the result can run on scratch.

const dockerfile = "Dockerfile"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
	line int
}

// stage is the instructions from one FROM to the next.
type stage struct {
	from, name string
	body       []instruction
}

func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		stages []stage
		cur    strings.Builder
		start  int
	)
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if rest, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// The image is a non-root static binary on scratch, with CA certificates.
func TestDockerfileFinalStage(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, dockerfile)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a builder and a final stage", len(stages))
	}
	final := stages[len(stages)-1]
	if final.from != "scratch" {
		t.Errorf("final stage is FROM %s, want scratch", final.from)
	}
	builder := builderStage(t, stages)

	users := final.all("USER")
	if len(users) != 1 {
		t.Fatalf("final stage has %d USER instructions, want 1", len(users))
	}
	uid, gid, hasGroup := strings.Cut(users[0].args, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric, non-zero user id (runAsNonRoot needs a number)", users[0].args)
	}
	if _, err := strconv.Atoi(gid); hasGroup && err != nil {
		t.Errorf("USER %s: want a numeric group id", users[0].args)
	}

	eps := final.all("ENTRYPOINT")
	if len(eps) != 1 {
		t.Fatalf("final stage has %d ENTRYPOINT instructions, want 1", len(eps))
	}
	var entry []string
	if err := json.Unmarshal([]byte(eps[0].args), &entry); err != nil || !slices.Equal(entry, []string{"/monolith"}) {
		t.Errorf("ENTRYPOINT %s, want [\"/monolith\"] (exec form: scratch has no shell)", eps[0].args)
	}

	out := buildOutput(t, buildLine(t, builder))
	copies := map[string]string{} // destination -> source, from the builder
	for _, in := range final.all("COPY") {
		f := strings.Fields(in.args)
		if len(f) == 3 && f[0] == "--from="+builder.name {
			copies[f[2]] = f[1]
		}
	}
	if src := copies["/monolith"]; src != out {
		t.Errorf("final stage copies %q to /monolith, want the build's output %q", src, out)
	}
	const certs = "/etc/ssl/certs/ca-certificates.crt"
	if src := copies[certs]; src != certs {
		t.Errorf("final stage does not copy %s from the builder", certs)
	}
}

// The builder's Go is at least the version go.mod asks for.
func TestDockerfileGoVersion(t *testing.T) {
	t.Parallel()
	builder := builderStage(t, parseDockerfile(t, dockerfile))
	tag, ok := strings.CutPrefix(builder.from, "golang:")
	if !ok {
		t.Fatalf("builder is FROM %s, want golang:<version>", builder.from)
	}
	gomod, err := os.ReadFile("../../go.mod")
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

// The Dockerfile's go build line, run here, gives a static binary without
// symbols or local paths.
func TestDockerfileBuildsStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example (-short)")
	}
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not found: %v", err)
	}
	build := buildLine(t, builderStage(t, parseDockerfile(t, dockerfile)))
	root, err := filepath.Abs("../..") // the build context
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "monolith")
	args := slices.Clone(build.args)
	args[slices.Index(args, "-o")+1] = bin
	cmd := exec.Command(gobin, args...)
	cmd.Dir = root
	// The golang image builds for linux; everything else as written.
	cmd.Env = append(append(os.Environ(), "GOOS=linux", "GOFLAGS="), build.env...)
	t.Logf("go %s (env %s)", strings.Join(args, " "), strings.Join(build.env, " "))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			t.Error("the binary has a program interpreter (PT_INTERP): it is dynamically linked")
		case elf.PT_DYNAMIC:
			t.Error("the binary has a dynamic section (PT_DYNAMIC)")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
	if _, err := f.Symbols(); !errors.Is(err, elf.ErrNoSymbols) {
		t.Errorf("the binary has a symbol table (want -s): %v", err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(root)) {
		t.Errorf("the binary contains the build directory %s (want -trimpath)", root)
	}
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("static binary: %.1f MiB", float64(fi.Size())/(1<<20))
	}
}

func builderStage(t *testing.T, stages []stage) stage {
	t.Helper()
	for _, s := range stages[:len(stages)-1] {
		for _, in := range s.all("RUN") {
			if strings.Contains(in.args, "go build") {
				if s.name == "" {
					t.Fatalf("the stage that runs go build has no name (FROM ... AS builder)")
				}
				return s
			}
		}
	}
	t.Fatal("no stage before the final one runs go build")
	return stage{}
}

// goBuild is the builder's go build command: its arguments after "go", and
// the environment assignments in front of it or from ENV.
type goBuild struct {
	env  []string
	args []string
}

func buildLine(t *testing.T, s stage) goBuild {
	t.Helper()
	var b goBuild
	for _, in := range s.body {
		switch in.cmd {
		case "ENV":
			words, err := shellWords(in.args)
			if err != nil {
				t.Fatalf("%s:%d: ENV %s: %v", dockerfile, in.line, in.args, err)
			}
			b.env = append(b.env, words...)
		case "RUN":
			if !strings.Contains(in.args, "go build") {
				continue
			}
			words, err := shellWords(in.args)
			if err != nil {
				t.Fatalf("%s:%d: RUN %s: %v; keep the build line a plain go build", dockerfile, in.line, in.args, err)
			}
			i := 0
			for i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-") {
				b.env = append(b.env, words[i])
				i++
			}
			if len(words) < i+2 || words[i] != "go" || words[i+1] != "build" {
				t.Fatalf("%s:%d: RUN %s: want [VAR=value ...] go build ...", dockerfile, in.line, in.args)
			}
			b.args = words[i+1:]
			if !slices.Contains(b.env, "CGO_ENABLED=0") {
				t.Errorf("%s:%d: the build line does not set CGO_ENABLED=0", dockerfile, in.line)
			}
			for _, flag := range []string{"-trimpath", "-ldflags=-s -w"} {
				if !slices.Contains(b.args, flag) {
					t.Errorf("%s:%d: the build line lacks %s", dockerfile, in.line, flag)
				}
			}
			if slices.Index(b.args, "-o") < 0 || slices.Index(b.args, "-o") == len(b.args)-1 {
				t.Fatalf("%s:%d: the build line has no -o <file>", dockerfile, in.line)
			}
			return b
		}
	}
	t.Fatal("no go build line")
	return b
}

func buildOutput(t *testing.T, b goBuild) string {
	t.Helper()
	return b.args[slices.Index(b.args, "-o")+1]
}

// shellWords splits s as a POSIX shell splits a simple command: blanks
// separate words, quotes group them. Anything a shell would expand or treat
// as an operator is an error: the build line must mean the same here.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		inW   bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inW {
				words = append(words, cur.String())
				cur.Reset()
				inW = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inW = true
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, errors.New("unterminated double quote")
			}
			part := s[i+1 : i+1+j]
			if strings.ContainsAny(part, "$`\\") {
				return nil, fmt.Errorf("expansion or escape in %q", part)
			}
			cur.WriteString(part)
			i += j + 1
			inW = true
		case strings.IndexByte("$`\\;&|<>(){}*?[]~#", c) >= 0:
			return nil, fmt.Errorf("shell syntax %q", c)
		default:
			cur.WriteByte(c)
			inW = true
		}
	}
	if inW {
		words = append(words, cur.String())
	}
	return words, nil
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
