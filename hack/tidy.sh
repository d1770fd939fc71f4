#!/usr/bin/env bash
# Tidies every module of the workspace; with -check, changes nothing and
# fails when one is not tidy. go mod tidy ignores go.work, and the commands'
# module (cmd) requires the library at its release version with no replace
# directive (go install refuses one), so cmd is tidied in a copy whose
# library is the work tree, and its go.mod and go.sum are taken back from it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GOWORK=off
mode=()
if [[ "${1:-}" == "-check" ]]; then mode=(-diff); fi
for m in . examples internal/rig bench; do
  (cd "$root/$m" && go mod tidy "${mode[@]}")
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r "$root/cmd" "$tmp/cmd"
cd "$tmp/cmd"
go mod edit -replace "github.com/leaderjob/leaderjob=$root"
go mod tidy "${mode[@]}"
if [[ ${#mode[@]} -eq 0 ]]; then
  go mod edit -dropreplace github.com/leaderjob/leaderjob
  cp go.mod go.sum "$root/cmd/"
fi
