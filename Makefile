# Ark — see README.md. Everything here works on a fresh machine with Go:
# the cluster binaries and emulators are built from the Go module proxy and npm
# the first time and cached under ~/.cache/ark-testbin.

GO      ?= go
BIN_DIR := _output/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/heptio/ark/internal/buildinfo.Version=$(VERSION) \
           -X github.com/heptio/ark/internal/buildinfo.GitCommit=$(COMMIT)

.PHONY: build test quickstart quickstart-down generate testbin bench load-bench clean

build: ## build _output/bin/ark
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN_DIR)/ark ./cmd/ark

test: ## unit, integration and end-to-end tests (installs what they need)
	hack/test.sh

quickstart: build ## a real backup and restore on a local cluster
	hack/quickstart.sh

quickstart-down: ## stop the quickstart's cluster and server
	hack/quickstart.sh down

generate: ## regenerate deepcopy code and CRDs from api/v1, and the plugin protocol's Go code
	hack/generate.sh
	hack/genproto.sh

testbin: ## build and cache the local cluster's binaries
	hack/build-testbin.sh

bench: ## micro-benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

load-bench: build ## the backup/restore load benchmark on the local cluster
	hack/load-bench.sh

clean:
	rm -rf _output

# The server image and the CLI reference.
IMAGE ?= gcr.io/heptio-images/ark:$(VERSION)
.PHONY: image docs
image: ## build the image (multi-stage Dockerfile; needs a Docker engine, which these build machines lack)
	docker build --build-arg LDFLAGS="$(LDFLAGS)" -t $(IMAGE) .

docs: ## regenerate the CLI reference, docs/cli/*.md, from the commands
	$(GO) run ./hack/gendocs docs/cli
