package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the modification time of every file and the creation time of
// every image, so that equal inputs give equal images.
var epoch = time.Unix(0, 0).UTC()

// NormalizeRef returns ref in the form containerd and Docker list images
// by: with a registry (docker.io when there is none, with library/ for
// one-part names) and a tag (latest when there is none). Digest references
// are refused: an archive names images by tag.
func NormalizeRef(ref string) (string, error) {
	t, err := name.NewTag(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w; want [registry/]repository[:tag]", ref, err)
	}
	reg := t.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + t.RepositoryStr() + ":" + t.TagStr(), nil
}

// layerFile is a file of the image and the file on this machine it holds.
type layerFile struct {
	path   string // absolute, in the image
	mode   fs.FileMode
	source string
}

// writeImage writes a one-layer linux/arch image of files and dirs with
// config cfg to output, as a docker-archive tarball naming it ref.
func writeImage(ref, arch string, cfg Config, files []layerFile, dirs []string, output string) (*Result, error) {
	normal, err := NormalizeRef(ref)
	if err != nil {
		return nil, err
	}
	tag, err := name.NewTag(normal)
	if err != nil {
		return nil, err
	}
	layerTar, err := layer(files, dirs)
	if err != nil {
		return nil, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("compress the layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, fmt.Errorf("assemble the image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: epoch}
	cf.Config.User = cfg.User
	cf.Config.Entrypoint = cfg.Entrypoint
	cf.Config.Env = cfg.Env
	cf.Config.WorkingDir = cfg.WorkingDir
	if len(cfg.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range cfg.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("set the image config: %w", err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, err
	}

	tmp, err := os.CreateTemp(filepath.Dir(output), ".ociimage-*.tar")
	if err != nil {
		return nil, fmt.Errorf("write image archive: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := tarball.Write(tag, img, tmp); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write image archive %s: %w", output, err)
	}
	fi, err := tmp.Stat()
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), output)
	}
	if err != nil {
		return nil, fmt.Errorf("write image archive %s: %w", output, err)
	}
	return &Result{Ref: normal, ID: id.String(), Size: fi.Size()}, nil
}

// layer returns the uncompressed layer tar holding files, dirs and the
// directories above them: entries sorted by path, owned by root, mode 0755
// for directories, modification time epoch.
func layer(files []layerFile, dirs []string) ([]byte, error) {
	type entry struct {
		path string
		file *layerFile // nil for a directory
	}
	seen := map[string]bool{}
	var entries []entry
	addDir := func(p string) {
		for ; p != "/" && !seen[p]; p = path.Dir(p) {
			seen[p] = true
			entries = append(entries, entry{path: p})
		}
	}
	for _, d := range dirs {
		addDir(d)
	}
	for i := range files {
		addDir(path.Dir(files[i].path))
		entries = append(entries, entry{path: files[i].path, file: &files[i]})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: strings.TrimPrefix(e.path, "/"), ModTime: epoch, Uid: 0, Gid: 0}
		if e.file == nil {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			if err := tw.WriteHeader(h); err != nil {
				return nil, err
			}
			continue
		}
		data, err := os.ReadFile(e.file.source)
		if err != nil {
			return nil, fmt.Errorf("layer file %s: %w", e.path, err)
		}
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, int64(e.file.mode.Perm()), int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
