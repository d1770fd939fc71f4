# The two commands the README promises:
#   make run   runs examples/monolith with no cluster (guard "always")
#   make test  installs the test tools (hack/test-deps.sh: Debian's prometheus
#              and containerd packages), builds etcd + kube-apiserver once
#              (cached), then runs every test with -race
# and, for a cluster without a registry:
#   make images  builds the example, elector and pause images from their
#                Dockerfiles without Docker, as archives in bin/images/ for
#                ctr -n k8s.io images import
GO ?= go

.PHONY: run test test-deps controlplane bench vet images

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

IMAGES ?= bin/images
OCIIMAGE = $(GO) run ./internal/ociimage/cmd/ociimage

images:
	@mkdir -p $(IMAGES)
	$(OCIIMAGE) -f examples/monolith/Dockerfile -t example.com/monolith:1.0.0 -o $(IMAGES)/monolith.tar
	$(OCIIMAGE) -f cmd/leaderjob-elector/Dockerfile -t leaderjob-elector:latest -o $(IMAGES)/leaderjob-elector.tar
	$(OCIIMAGE) -pause -t registry.k8s.io/pause:3.10 -o $(IMAGES)/pause.tar
