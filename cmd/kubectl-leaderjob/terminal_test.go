package main

import (
	"os"
	"testing"
)

// /dev/null is a character device but not a terminal: --watch appends
// refreshes to it rather than redrawing.
func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("/dev/null taken for a terminal")
	}
}
