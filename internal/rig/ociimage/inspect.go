package ociimage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Image is what an archive written by Build or BuildPause holds.
type Image struct {
	Refs         []string // the names the archive gives the image
	ID           string   // the digest of the config, "sha256:..."
	OS           string
	Architecture string
	Config       Config
	Layers       [][]Entry // each layer's entries, in archive order
}

// Entry is a file or directory in a layer.
type Entry struct {
	Path     string      // absolute, without a trailing slash: "/etc/ssl/certs"
	Mode     fs.FileMode // type and permission bits
	UID, GID int
	ModTime  time.Time
	Data     []byte // a regular file's contents
}

// Inspect reads the docker-archive tarball at file, which must hold one
// image, and returns its names, config and layers' contents.
func Inspect(file string) (*Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: %w", file, err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("image archive %s holds %d images, want 1", file, len(m))
	}
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: %w", file, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: config: %w", file, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	out := &Image{
		Refs: m[0].RepoTags, ID: id.String(), OS: cf.OS, Architecture: cf.Architecture,
		Config: Config{
			User: cf.Config.User, Entrypoint: cf.Config.Entrypoint, Env: cf.Config.Env,
			WorkingDir: cf.Config.WorkingDir,
		},
	}
	for p := range cf.Config.ExposedPorts {
		out.Config.ExposedPorts = append(out.Config.ExposedPorts, p)
	}
	slices.Sort(out.Config.ExposedPorts)
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for i, l := range layers {
		entries, err := readLayer(l)
		if err != nil {
			return nil, fmt.Errorf("read image archive %s: layer %d: %w", file, i, err)
		}
		out.Layers = append(out.Layers, entries)
	}
	return out, nil
}

func readLayer(l v1.Layer) ([]Entry, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var entries []Entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		e := Entry{
			Path: path.Clean("/" + h.Name), Mode: h.FileInfo().Mode(),
			UID: h.Uid, GID: h.Gid, ModTime: h.ModTime,
		}
		if h.Typeflag == tar.TypeReg {
			if e.Data, err = io.ReadAll(tr); err != nil {
				return nil, err
			}
		}
		entries = append(entries, e)
	}
}

// Verify reports how img differs from what r asks for: its config (user,
// entrypoint, exposed ports, environment, working directory), and a single
// layer holding exactly r's files with their modes, r's directories and the
// directories above both (mode 0755), everything owned by root. It returns
// nil when they agree.
func (r *Recipe) Verify(img *Image) error {
	var diffs []string
	differ := func(what string, got, want any) {
		diffs = append(diffs, fmt.Sprintf("%s is %q, the Dockerfile says %q", what, got, want))
	}
	c, w := img.Config, r.Config
	if c.User != w.User {
		differ("user", c.User, w.User)
	}
	if !slices.Equal(c.Entrypoint, w.Entrypoint) {
		differ("entrypoint", c.Entrypoint, w.Entrypoint)
	}
	if !slices.Equal(c.ExposedPorts, w.ExposedPorts) {
		differ("exposed ports", c.ExposedPorts, w.ExposedPorts)
	}
	if !slices.Equal(c.Env, w.Env) {
		differ("environment", c.Env, w.Env)
	}
	if c.WorkingDir != w.WorkingDir {
		differ("working directory", c.WorkingDir, w.WorkingDir)
	}
	if len(img.Layers) != 1 {
		diffs = append(diffs, fmt.Sprintf("%d layers, want 1", len(img.Layers)))
	} else {
		want := map[string]fs.FileMode{}
		addDirs := func(p string) {
			for ; p != "/"; p = path.Dir(p) {
				want[p] = fs.ModeDir | 0o755
			}
		}
		for _, d := range r.Dirs {
			addDirs(d)
		}
		for _, f := range r.Files {
			addDirs(path.Dir(f.Path))
			want[f.Path] = f.Mode
		}
		for _, e := range img.Layers[0] {
			m, ok := want[e.Path]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s is in the image, not in the Dockerfile", e.Path))
			case e.Mode != m:
				diffs = append(diffs, fmt.Sprintf("%s has mode %v, want %v", e.Path, e.Mode, m))
			}
			if e.UID != 0 || e.GID != 0 {
				diffs = append(diffs, fmt.Sprintf("%s is owned by %d:%d, want 0:0", e.Path, e.UID, e.GID))
			}
			delete(want, e.Path)
		}
		for p := range want {
			diffs = append(diffs, fmt.Sprintf("%s is missing from the image", p))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	return fmt.Errorf("the image does not match the Dockerfile: %s", strings.Join(diffs, "; "))
}
