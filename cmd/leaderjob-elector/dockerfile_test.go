package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct{ cmd, args string }

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// The final stage is an empty image holding only the binary (and root
// certificates), run as a numeric non-root user through an exec-form
// ENTRYPOINT.
func TestDockerfileFinalStage(t *testing.T) {
	ins := readDockerfile(t)
	last := -1
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	if last < 0 || strings.Fields(ins[last].args)[0] != "scratch" {
		t.Fatalf("the final stage is not FROM scratch: %+v", ins[last])
	}
	var user, entry string
	var copied []string
	for _, in := range ins[last+1:] {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "COPY":
			f := strings.Fields(in.args)
			copied = append(copied, f[len(f)-1])
		case "RUN":
			t.Errorf("RUN in the final stage (scratch has no shell): %s", in.args)
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	for _, id := range []string{uid, gid} {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("USER %q: want numeric, non-root user and group ids", user)
		}
	}
	var argv []string
	if err := json.Unmarshal([]byte(entry), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("ENTRYPOINT %q: want the exec form, a JSON array", entry)
	}
	found := false
	for _, c := range copied {
		found = found || c == argv[0]
	}
	if !found {
		t.Errorf("ENTRYPOINT runs %s, which no COPY of the final stage puts there (%v)", argv[0], copied)
	}
}

// The build stage's Go is at least the go.mod's go version.
func TestDockerfileGoVersion(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, line := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			want = strings.TrimSpace(v)
		}
	}
	for _, in := range readDockerfile(t) {
		image, _, _ := strings.Cut(in.args, " ")
		tag, ok := strings.CutPrefix(image, "golang:")
		if in.cmd != "FROM" || !ok {
			continue
		}
		tag, _, _ = strings.Cut(tag, "-") // golang:1.26-alpine
		if !versionAtLeast(tag, want) {
			t.Errorf("FROM %s builds with Go %s, older than go.mod's go %s", image, tag, want)
		}
		return
	}
	t.Error("no FROM golang:<version> build stage")
}

// versionAtLeast compares dotted versions numerically, missing parts as 0.
func versionAtLeast(have, want string) bool {
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

// The build stage's go build line, run here with exactly its flags and
// environment, makes a static binary: no program interpreter, no shared
// libraries.
func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	var env, args []string
	for _, in := range readDockerfile(t) {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		words := shellWords(t, in.args)
		i := 0
		for ; i < len(words) && strings.Contains(words[i], "=") && words[i] != "go"; i++ {
			env = append(env, words[i])
		}
		if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
			t.Fatalf("cannot read the build line %q", in.args)
		}
		args = words[i+2:]
	}
	if args == nil {
		t.Fatal("no go build line in the Dockerfile")
	}
	out := filepath.Join(t.TempDir(), "leaderjob-elector")
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = filepath.Join("..", "..") // the Dockerfile's build context, the repository root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v with %v: %v\n%s", args, env, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is not static", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
}

// shellWords splits a RUN line the way sh would for the simple forms a
// Dockerfile build line uses: spaces, and single or double quotes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case r == '&' || r == ';' || r == '|' || r == '$' || r == '`':
			t.Fatalf("the build line %q uses shell syntax this test does not read; keep it one plain command", s)
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
