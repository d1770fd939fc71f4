// Package gitrev checks out an earlier revision of the repository, for the
// tests that run an earlier release beside this one (an upgrade and a roll
// back). It needs git and the repository's history: a shallow clone may
// lack the revision, and the tests that use it are opt-in
// (LEADERJOB_UPGRADE_FROM).
package gitrev

import (
	"fmt"
	"os/exec"
	"strings"
)

// EnvUpgradeFrom names the revision (a tag, a commit) that the upgrade
// tests build as the earlier release.
const EnvUpgradeFrom = "LEADERJOB_UPGRADE_FROM"

// Worktree checks rev out into dir (which must not exist) as a detached
// worktree of the repository that holds the working directory, and
// returns a function that removes it.
func Worktree(rev, dir string) (remove func(), err error) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return nil, fmt.Errorf("gitrev: git rev-parse: %w", err)
	}
	repo := strings.TrimSpace(string(root))
	if out, err := exec.Command("git", "-C", repo, "worktree", "add", "--detach", dir, rev).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gitrev: git worktree add %s: %w\n%s", rev, err, out)
	}
	return func() { _ = exec.Command("git", "-C", repo, "worktree", "remove", "--force", dir).Run() }, nil
}
