package arena

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// Build builds the contender program and leaderjob-elector into dir, from
// the repository at root (its go.work: the working tree of every module).
func Build(root, dir string) (contender, elector string, err error) {
	contender = filepath.Join(dir, "contender")
	elector = filepath.Join(dir, "leaderjob-elector")
	for _, b := range []struct{ out, pkg string }{
		{contender, "github.com/leaderjob/leaderjob/bench/cmd/contender"},
		{elector, "github.com/leaderjob/leaderjob/cmd/leaderjob-elector"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return contender, elector, nil
}
