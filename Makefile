# socmgmt — build, run and test. `make help` lists the targets.

SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
TOOLS     := $(CURDIR)/.tools/bin
DATA_DIR  ?= $(CURDIR)/var
# What `make breaking` compares the protos with: a buf input. CI passes the
# previous commit, .git#ref=HEAD~1.
BREAKING_AGAINST ?= .git\#branch=main
export PATH := $(TOOLS):$(PATH)

# Code-generation, lint and client tools, pinned. `make tools` installs
# them into .tools/bin from the Go module proxy; nothing else is downloaded.
BUF_VERSION              := v1.75.0
PROTOC_GEN_GO_VERSION    := v1.36.12
PROTOC_GEN_GO_GRPC_VER   := v1.6.2
GRPC_GATEWAY_VERSION     := v2.33.0
GRPCURL_VERSION          := v1.9.4
GOLANGCI_LINT_VERSION    := v2.15.0
TOOL_STAMP := $(CURDIR)/.tools/stamp-$(BUF_VERSION)-$(PROTOC_GEN_GO_VERSION)-$(PROTOC_GEN_GO_GRPC_VER)-$(GRPC_GATEWAY_VERSION)-$(GRPCURL_VERSION)-$(GOLANGCI_LINT_VERSION)

PROGRAMS := registry gateway socmgmt activity handover pension
registry_PKG := ./services/registry/cmd/registry
gateway_PKG  := ./gateway/cmd/gateway
socmgmt_PKG  := ./cmd/socmgmt
pension_PKG  := ./services/pension/cmd/pension
activity_PKG := ./services/activity/cmd/activity
handover_PKG := ./services/handover/cmd/handover

GENERATED := proto gateway/openapi

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every program into ./bin.
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(foreach p,$(PROGRAMS),$($(p)_PKG))

.PHONY: run
run: build ## Build and start the whole stack on 127.0.0.1 (data in DATA_DIR, default ./var); Ctrl-C stops it.
	$(GO) build -o $(BIN)/devrun ./scripts/devrun
	$(BIN)/devrun --bin $(BIN) --data-dir $(DATA_DIR)

.PHONY: test
test: ## Run every test with the race detector (unit, service, end-to-end).
	$(GO) test -race -shuffle=on -count=1 -timeout 20m ./...

.PHONY: test-short
test-short: ## Run the tests without the race detector, skipping end-to-end tests.
	$(GO) test -short -count=1 ./...

.PHONY: bench
bench: build ## Run the Go benchmarks and the load harness; prints the figures table.
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=2000x ./internal/... ./services/...
	$(GO) run ./scripts/bench --bin $(BIN)

.PHONY: lint
lint: $(TOOL_STAMP) ## go vet, gofmt, golangci-lint (.golangci.yml), buf lint and buf format check.
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\(\.gw\)\?\.go$$')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	golangci-lint run ./...
	buf lint
	buf format --diff --exit-code

.PHONY: generate
generate: $(TOOL_STAMP) ## Regenerate Go, gateway and OpenAPI code from the protos.
	rm -rf gateway/openapi
	find proto -name '*.pb.go' -o -name '*.pb.gw.go' | xargs -r rm -f
	buf generate

.PHONY: check-generate
check-generate: generate ## Fail when committed generated code is out of date.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "generated code is out of date; run 'make generate' and commit:"; \
		git status --porcelain -- $(GENERATED); exit 1; fi

.PHONY: breaking
breaking: $(TOOL_STAMP) ## Check the protos for breaking changes against BREAKING_AGAINST (default: branch main).
	buf breaking --against '$(BREAKING_AGAINST)'

# The npm package of the calendar check that runs a parser not written in
# Go (ical.js), pinned by its package-lock.json.
ICALJS_DIR := services/activity/testdata/icaljs

.PHONY: tools
tools: $(TOOL_STAMP) $(ICALJS_DIR)/node_modules/.package-lock.json ## Install the pinned tools into .tools/bin, and ical.js for the calendar test.

$(ICALJS_DIR)/node_modules/.package-lock.json: $(ICALJS_DIR)/package-lock.json $(ICALJS_DIR)/package.json
	npm ci --prefix $(ICALJS_DIR) --no-audit --no-fund

$(TOOL_STAMP):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VER)
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
	GOBIN=$(TOOLS) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
	GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@rm -f $(CURDIR)/.tools/stamp-* && touch $@

.PHONY: clean
clean: ## Remove build output (not the data in ./var).
	rm -rf $(BIN)
