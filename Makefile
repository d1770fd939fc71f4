# The two commands the README promises:
#   make run   runs examples/monolith with no cluster (guard "always")
#   make test  installs the test tools (hack/test-deps.sh: Debian's prometheus
#              package), builds etcd + kube-apiserver once (cached), then runs
#              every test with -race
GO ?= go

.PHONY: run test test-deps controlplane bench vet

run:
	$(GO) run ./examples/monolith

controlplane:
	@hack/controlplane.sh

test: vet test-deps
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" $(GO) test -race -count=1 -timeout 30m ./...

test-deps:
	@bash hack/test-deps.sh

vet:
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
