// Package pinned finds what the hack/ scripts build from the tool modules
// pinned under internal/tools: the repository's root, the version a tool
// module pins, and the cache directory the scripts build into.
package pinned

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Root finds the leaderjob module's root above the working directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "module github.com/leaderjob/leaderjob\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the leaderjob module root was not found above the working directory")
		}
		dir = parent
	}
}

// Version returns the version of module that the tool module
// internal/tools/<tool> requires.
func Version(tool, module string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	gomod := filepath.Join(root, "internal/tools", tool, "go.mod")
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(s.Text()), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("%s does not require %s", gomod, module)
}

// CacheDir is LEADERJOB_CACHE, else leaderjob in the user's cache
// directory, as in hack/.
func CacheDir() (string, error) {
	if dir := os.Getenv("LEADERJOB_CACHE"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "leaderjob"), nil
}
