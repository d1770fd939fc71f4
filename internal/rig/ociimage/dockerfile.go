package ociimage

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Dockerfile is a parsed Dockerfile: its stages in order, the last one being
// the image.
type Dockerfile struct {
	Path   string // the name errors give, usually the file's path
	Stages []Stage
}

// Stage is a FROM instruction and the instructions up to the next FROM.
type Stage struct {
	Line         int    // line of the FROM
	From         string // base image as written: "scratch", "golang:1.26", ...
	Name         string // the AS name, "" when there is none
	Instructions []Instruction
}

// Instruction is one instruction other than FROM, continuation lines joined.
type Instruction struct {
	Line int    // line the instruction starts on (1-based)
	Cmd  string // keyword in upper case: RUN, COPY, USER, ...
	Args string // the rest, trimmed; continued lines joined by a space
}

// Error is a problem with a Dockerfile at a line (0 when it concerns the
// whole file).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func errorf(file string, line int, format string, args ...any) error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// understood lists the instructions of the subset besides FROM.
var understood = map[string]bool{
	"RUN": true, "COPY": true, "USER": true, "EXPOSE": true,
	"ENTRYPOINT": true, "WORKDIR": true, "ENV": true,
}

// ParseFile reads and parses the Dockerfile at path.
func ParseFile(path string) (*Dockerfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

// Load reads and parses the Dockerfile at path and returns it with its
// Recipe: what Build would build from it.
func Load(path string) (*Dockerfile, *Recipe, error) {
	d, err := ParseFile(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := d.Recipe()
	if err != nil {
		return nil, nil, err
	}
	return d, r, nil
}

// Parse parses a Dockerfile read from r; name is what errors call it. It
// checks the syntax of the subset the package documents: known instructions
// only, a FROM first, FROM's form and unique stage names. What the
// instructions mean is checked by [Dockerfile.Recipe].
func Parse(name string, r io.Reader) (*Dockerfile, error) {
	d := &Dockerfile{Path: name}
	var (
		text      strings.Builder // the instruction being read
		start     int             // its first line
		directive = true          // parser directives may still come
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if c, ok := strings.CutPrefix(line, "#"); ok {
			if directive {
				key, value, isDirective := strings.Cut(c, "=")
				key = strings.ToLower(strings.TrimSpace(key))
				if isDirective && key == "escape" && strings.TrimSpace(value) != `\` {
					return nil, errorf(name, n, "escape directive %q: only the default escape character \\ is supported", strings.TrimSpace(value))
				}
				directive = isDirective && !strings.ContainsAny(key, " \t")
			}
			continue // comments, inside continuations too, as Docker does
		}
		directive = false
		if line == "" {
			continue
		}
		if text.Len() == 0 {
			start = n
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			text.WriteString(rest)
			text.WriteByte(' ')
			continue
		}
		text.WriteString(line)
		if err := d.add(start, text.String()); err != nil {
			return nil, err
		}
		text.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if text.Len() > 0 { // a continuation on the last line
		if err := d.add(start, text.String()); err != nil {
			return nil, err
		}
	}
	if len(d.Stages) == 0 {
		return nil, errorf(name, 0, "no FROM instruction")
	}
	return d, nil
}

// add appends the instruction text starting at line to d.
func (d *Dockerfile) add(line int, text string) error {
	text = strings.TrimSpace(text)
	kw, args := text, ""
	if i := strings.IndexAny(text, " \t"); i >= 0 {
		kw, args = text[:i], strings.TrimSpace(text[i:])
	}
	cmd := strings.ToUpper(kw)
	if cmd == "FROM" {
		return d.addStage(line, args)
	}
	if !understood[cmd] {
		return errorf(d.Path, line, "%s is not supported: this builder understands FROM, RUN, COPY, USER, EXPOSE, ENTRYPOINT, WORKDIR and ENV", cmd)
	}
	if len(d.Stages) == 0 {
		return errorf(d.Path, line, "%s before the first FROM", cmd)
	}
	if strings.Contains(args, "<<") && (cmd == "RUN" || cmd == "COPY") {
		return errorf(d.Path, line, "%s with a heredoc is not supported", cmd)
	}
	s := &d.Stages[len(d.Stages)-1]
	s.Instructions = append(s.Instructions, Instruction{Line: line, Cmd: cmd, Args: args})
	return nil
}

func (d *Dockerfile) addStage(line int, args string) error {
	f := strings.Fields(args)
	if len(f) > 0 && strings.HasPrefix(f[0], "--") {
		return errorf(d.Path, line, "FROM %s: flags are not supported (the platform is chosen by GOARCH)", f[0])
	}
	s := Stage{Line: line}
	switch {
	case len(f) == 1:
		s.From = f[0]
	case len(f) == 3 && strings.EqualFold(f[1], "AS"):
		s.From, s.Name = f[0], f[2]
	default:
		return errorf(d.Path, line, "FROM %s: want FROM image [AS name]", args)
	}
	if strings.Contains(s.From, "$") {
		return errorf(d.Path, line, "FROM %s: variable expansion is not supported", s.From)
	}
	for _, prev := range d.Stages {
		if s.Name != "" && strings.EqualFold(prev.Name, s.Name) {
			return errorf(d.Path, line, "stage name %q is already used by the stage at line %d", s.Name, prev.Line)
		}
	}
	d.Stages = append(d.Stages, s)
	return nil
}

// Final returns the last stage, the one that is the image.
func (d *Dockerfile) Final() *Stage { return &d.Stages[len(d.Stages)-1] }

// stage returns the index of the stage that ref names in a COPY --from (or a FROM): its
// AS name, compared case-insensitively, or its index counted from 0. Only
// stages before the stage at index before are considered.
func (d *Dockerfile) stage(ref string, before int) (int, bool) {
	for i := range before {
		if d.Stages[i].Name != "" && strings.EqualFold(d.Stages[i].Name, ref) {
			return i, true
		}
	}
	if i, err := strconv.Atoi(ref); err == nil && strconv.Itoa(i) == ref && i >= 0 && i < before {
		return i, true
	}
	return 0, false
}

// All returns the stage's instructions with the keyword cmd (upper case).
func (s *Stage) All(cmd string) []Instruction {
	var out []Instruction
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}
