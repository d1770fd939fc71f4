package ociimage

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const goodDockerfile = `# syntax=docker/dockerfile:1
# A comment after the directives.

from golang:1.26 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV GOEXPERIMENT=none \
    GOAMD64=v1
# a comment inside nothing
RUN CGO_ENABLED=0 go build \
    # a comment inside a continuation, dropped as Docker does
    -trimpath -ldflags='-s -w' \
    -o /out/app ./cmd/app
RUN ["go", "build", "-o=bin/tool", "./cmd/tool"]

FROM scratch
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=builder /out/app /app
COPY --from=0 /src/bin/tool /usr/bin/tool
WORKDIR /data
ENV A=1 B="two words"
ENV C	3
ENV A=one
USER 65532:65532
EXPOSE 8080 9090/udp 8080/tcp
ENTRYPOINT ["/app", "--flag"]
`

func TestParse(t *testing.T) {
	d, err := Parse("Dockerfile", strings.NewReader(goodDockerfile))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Stages) != 2 {
		t.Fatalf("%d stages, want 2", len(d.Stages))
	}
	b, f := d.Stages[0], d.Stages[1]
	if b.Line != 4 || b.From != "golang:1.26" || b.Name != "builder" || f.From != "scratch" || f.Name != "" || f.Line != 18 {
		t.Errorf("stages %+v / %+v", b, f)
	}
	want := []Instruction{
		{5, "WORKDIR", "/src"},
		{6, "COPY", "go.mod go.sum ./"},
		{7, "RUN", "go mod download"},
		{8, "COPY", ". ."},
		{9, "ENV", "GOEXPERIMENT=none  GOAMD64=v1"},
		{12, "RUN", "CGO_ENABLED=0 go build  -trimpath -ldflags='-s -w'  -o /out/app ./cmd/app"},
		{16, "RUN", `["go", "build", "-o=bin/tool", "./cmd/tool"]`},
	}
	if !reflect.DeepEqual(b.Instructions, want) {
		t.Errorf("builder instructions:\n got %+v\nwant %+v", b.Instructions, want)
	}
	if got := f.All("ENV"); len(got) != 3 || got[1].Line != 24 {
		t.Errorf("final stage ENV: %+v", got)
	}
	if d.Final() != &d.Stages[1] {
		t.Error("Final is not the last stage")
	}
}

func TestRecipe(t *testing.T) {
	d, err := Parse("Dockerfile", strings.NewReader(goodDockerfile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Recipe()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Builds) != 2 {
		t.Fatalf("builds %+v, want 2", r.Builds)
	}
	app, tool := r.Builds[0], r.Builds[1]
	if app.Line != 12 || app.Stage != 0 || app.Output != "/out/app" ||
		!slices.Equal(app.Env, []string{"GOEXPERIMENT=none", "GOAMD64=v1", "CGO_ENABLED=0"}) ||
		!slices.Equal(app.Args, []string{"build", "-trimpath", "-ldflags=-s -w", "-o", "/out/app", "./cmd/app"}) {
		t.Errorf("app build %+v", app)
	}
	if got := app.WithOutput("/tmp/x"); !slices.Equal(got, []string{"build", "-trimpath", "-ldflags=-s -w", "-o", "/tmp/x", "./cmd/app"}) {
		t.Errorf("app WithOutput: %q", got)
	}
	if tool.Output != "/src/bin/tool" || !slices.Equal(tool.Env, []string{"GOEXPERIMENT=none", "GOAMD64=v1"}) {
		t.Errorf("tool build %+v: want the output under WORKDIR /src and the stage's ENV", tool)
	}
	if got := tool.WithOutput("/tmp/y"); !slices.Equal(got, []string{"build", "-o=/tmp/y", "./cmd/tool"}) {
		t.Errorf("tool WithOutput: %q", got)
	}
	wantFiles := []File{
		{Line: 19, Path: "/etc/ssl/certs/ca-certificates.crt", Source: CACertificates, Mode: 0o644},
		{Line: 20, Path: "/app", Source: "/out/app", Mode: 0o755, Built: true},
		{Line: 21, Path: "/usr/bin/tool", Source: "/src/bin/tool", Mode: 0o755, Built: true},
	}
	slices.SortFunc(wantFiles, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	if !reflect.DeepEqual(r.Files, wantFiles) {
		t.Errorf("files:\n got %+v\nwant %+v", r.Files, wantFiles)
	}
	wantConfig := Config{
		User:         "65532:65532",
		Entrypoint:   []string{"/app", "--flag"},
		ExposedPorts: []string{"8080/tcp", "9090/udp"},
		Env:          []string{"A=one", "B=two words", "C=3"},
		WorkingDir:   "/data",
	}
	if !reflect.DeepEqual(r.Config, wantConfig) {
		t.Errorf("config:\n got %+v\nwant %+v", r.Config, wantConfig)
	}
	if !slices.Equal(r.Dirs, []string{"/data"}) {
		t.Errorf("dirs %q, want [/data]", r.Dirs)
	}
}

// Only the builds of stages the image copies from are run.
func TestRecipeSkipsUnusedStages(t *testing.T) {
	r := recipe(t, `FROM golang AS a
RUN go build -o /out/a ./a
FROM golang AS b
RUN go build -o /out/b ./b
FROM scratch
COPY --from=b /out/b /b
ENTRYPOINT ["/b"]
`)
	if len(r.Builds) != 1 || r.Builds[0].Output != "/out/b" {
		t.Errorf("builds %+v, want only /out/b", r.Builds)
	}
}

func recipe(t *testing.T, dockerfile string) *Recipe {
	t.Helper()
	d, err := Parse("Dockerfile", strings.NewReader(dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Recipe()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The bad Dockerfiles below change one line of this one; %s marks it.
const badTemplate = `FROM golang:1.26 AS build
RUN CGO_ENABLED=0 go build -o /out/x ./x
FROM scratch
COPY --from=build /out/x /x
%s
ENTRYPOINT ["/x"]
`

func TestDockerfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int    // 0: the line of %s in badTemplate, 5
		want       string // in the message
	}{
		{"unsupported instruction", "ARG VERSION", 0, "ARG is not supported"},
		{"CMD", `CMD ["x"]`, 0, "CMD is not supported"},
		{"shell-form ENTRYPOINT", "ENTRYPOINT /x --flag", 0, "the shell form needs /bin/sh"},
		{"relative ENTRYPOINT", `ENTRYPOINT ["x"]`, 0, "absolute path"},
		{"RUN in the final stage", "RUN echo hi", 0, "RUN in the final stage"},
		{"COPY from the context", "COPY config.yaml /config.yaml", 0, "copying from the build context into the final stage is not supported"},
		{"COPY from an image", "COPY --from=busybox /bin/sh /sh", 0, "no earlier stage has that name"},
		{"COPY of a file the build does not make", "COPY --from=build /src/README.md /README.md", 0, "not a go build output of that stage (/out/x)"},
		{"COPY flags", "COPY --chmod=0700 --from=build /out/x /y", 0, "only the --from flag is supported"},
		{"COPY wildcard", "COPY --from=build /out/* /bin/", 0, "wildcards"},
		{"COPY several sources", "COPY --from=build /out/x /out/x /bin/", 0, "exactly one source"},
		{"COPY JSON form", `COPY ["--from=build", "/out/x", "/y"]`, 0, "JSON form"},
		{"named user", "USER nonroot", 0, "numeric uid"},
		{"expansion", "WORKDIR $HOME", 0, "variable expansion"},
		{"bad port", "EXPOSE 80-90", 0, "ranges are not supported"},
		{"bad protocol", "EXPOSE 80/icmp", 0, "want tcp, udp or sctp"},
		{"bad ENV", "ENV A", 0, "not KEY=value"},
		{"heredoc", "RUN <<EOF", 0, "heredoc"},
		{"second FROM flag", "FROM --platform=linux/arm64 scratch", 0, "flags are not supported"},
		{"duplicate stage", "FROM scratch AS BUILD", 0, `stage name "BUILD" is already used by the stage at line 1`},
		{"final stage not scratch", "FROM gcr.io/distroless/static AS final\nCOPY --from=build /out/x /x", 5, "the final stage is FROM gcr.io/distroless/static; only FROM scratch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.line == 0 {
				tc.line = 5
			}
			checkError(t, strings.Replace(badTemplate, "%s", tc.text, 1), tc.line, tc.want)
		})
	}
}

func TestDockerfileErrorsElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int
		want       string
	}{
		{"no FROM", "# nothing\n", 0, "no FROM instruction"},
		{"ENTRYPOINT of a file not copied", "FROM golang AS b\nRUN go build -o /x .\nFROM scratch\nCOPY --from=b /x /x\nENTRYPOINT [\"/y\"]\n", 5, "ENTRYPOINT runs /y, which no COPY of the final stage puts there"},
		{"before FROM", "ENV A=1\nFROM scratch\n", 1, "ENV before the first FROM"},
		{"escape directive", "# escape=`\nFROM scratch\n", 1, "only the default escape character"},
		{"FROM form", "FROM a b\n", 1, "want FROM image [AS name]"},
		{"no ENTRYPOINT", "FROM golang AS b\nRUN go build -o /x .\nFROM scratch\nCOPY --from=b /x /x\n", 3, "the final stage has no ENTRYPOINT"},
		{"other RUN in a builder", "FROM golang AS b\nRUN apt-get install -y git\nFROM scratch\n", 2, `only "go mod download"`},
		{"shell operators", "FROM golang AS b\nRUN go build -o /x . && strip /x\nFROM scratch\n", 2, "shell syntax '&'"},
		{"expansion in RUN", "FROM golang AS b\nRUN go build -o $OUT .\nFROM scratch\n", 2, "shell syntax '$'"},
		{"go build without -o", "FROM golang AS b\nRUN go build ./x\nFROM scratch\n", 2, "go build without -o"},
		{"go build -o a directory", "FROM golang AS b\nRUN go build -o /out/ ./x\nFROM scratch\n", 2, "not a directory"},
		{"COPY --from in a builder", "FROM golang AS a\nFROM golang AS b\nCOPY --from=a /x /x\nFROM scratch\n", 3, "COPY --from into a builder stage"},
		{"stage on a stage", "FROM golang AS a\nFROM a AS b\nFROM scratch\n", 2, "a stage built on an earlier stage"},
		{"unterminated quote", "FROM golang AS b\nRUN go build -ldflags='-s -o /x .\nFROM scratch\n", 2, "unterminated ' quote"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkError(t, tc.text, tc.line, tc.want) })
	}
}

func checkError(t *testing.T, text string, line int, want string) {
	t.Helper()
	d, err := Parse("Dockerfile", strings.NewReader(text))
	if err == nil {
		_, err = d.Recipe()
	}
	if err == nil {
		t.Fatalf("no error for\n%s", text)
	}
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not an *Error", err)
	}
	prefix := "Dockerfile: "
	if line != 0 {
		prefix = "Dockerfile:" + strconv.Itoa(line) + ": "
	}
	if de.Line != line || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to start %q and contain %q", err, prefix, want)
	}
}

func TestShellWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{`CGO_ENABLED=0  go build -ldflags="-s -w" -o /out/x ./x`, []string{"CGO_ENABLED=0", "go", "build", "-ldflags=-s -w", "-o", "/out/x", "./x"}, ""},
		{`a'b c'"d"e`, []string{"ab cde"}, ""},
		{`go build -o x#y`, []string{"go", "build", "-o", "x#y"}, ""},
		{`go build # comment`, nil, "shell syntax '#'"},
		{`go build -ldflags "-X main.v=$V"`, nil, "expansion or escape"},
		{`go build ./... | tee log`, nil, "shell syntax '|'"},
		{`go build 'x`, nil, "unterminated ' quote"},
	} {
		got, err := shellWords(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("shellWords(%s): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("shellWords(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"example.com/monolith:1.0.0": "example.com/monolith:1.0.0",
		"registry.k8s.io/pause:3.10": "registry.k8s.io/pause:3.10",
		"x:tag":                      "docker.io/library/x:tag",
		"x":                          "docker.io/library/x:latest",
		"org/x:1":                    "docker.io/org/x:1",
		"docker.io/x:1":              "docker.io/library/x:1",
		"localhost:5000/x":           "localhost:5000/x:latest",
	} {
		if got, err := NormalizeRef(in); err != nil || got != want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "UPPER/x:1", "x@sha256:0123456789012345678901234567890123456789012345678901234567890123"} {
		if got, err := NormalizeRef(bad); err == nil {
			t.Errorf("NormalizeRef(%q) = %q, want an error", bad, got)
		}
	}
}
