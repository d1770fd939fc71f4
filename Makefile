# The two commands the README promises:
#   make run   runs examples/monolith with no cluster (guard "always")
#   make test  builds etcd + kube-apiserver once (cached), then runs every test with -race
GO ?= go

.PHONY: run test controlplane bench vet

run:
	$(GO) run ./examples/monolith

controlplane:
	@hack/controlplane.sh

test: vet
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" $(GO) test -race -count=1 -timeout 30m ./...

vet:
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
