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
OAPI_CODEGEN_VERSION     := v2.8.2
BENCHSTAT_VERSION        := v0.0.0-20260908200009-22c9c6c9d4da
TOOL_STAMP := $(CURDIR)/.tools/stamp-$(BUF_VERSION)-$(PROTOC_GEN_GO_VERSION)-$(PROTOC_GEN_GO_GRPC_VER)-$(GRPC_GATEWAY_VERSION)-$(GRPCURL_VERSION)-$(GOLANGCI_LINT_VERSION)-$(OAPI_CODEGEN_VERSION)-$(BENCHSTAT_VERSION)

# The OpenAPI validators and the TypeScript client generator come from the
# npm registry, pinned exactly in tools/openapi/package-lock.json; `make
# tools` installs them with npm ci (Node.js 20.19 or later and npm must be
# on the machine) and not again until the lock file changes.
NPM_TOOLS   := tools/openapi
NPM_BIN     := $(CURDIR)/$(NPM_TOOLS)/node_modules/.bin
NPM_STAMP   := $(NPM_TOOLS)/node_modules/.installed
# The clerks' web console (web/console): its npm packages, pinned by its
# package-lock.json, are installed with npm ci (again only when the lock
# file changes); `make console` builds it into gateway/console/dist,
# which the gateway embeds and which is committed, so that `make run`
# needs only Go.
CONSOLE_DIR   := web/console
CONSOLE_STAMP := $(CONSOLE_DIR)/node_modules/.installed
CONSOLE_DIST  := gateway/console/dist
CONSOLE_TYPES := $(CONSOLE_DIR)/src/schema.d.ts
# The browser tests drive Debian's chromium; fonts-wqy-zenhei gives the
# screenshots Chinese glyphs. `make tools` installs both with apt-get when
# they are missing (as root, which CI is).
CHROMIUM      := /usr/bin/chromium
CHINESE_FONT  := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
BROWSER_PKGS  := chromium fonts-wqy-zenhei

# Where openapi-check writes the served document and the clients generated
# from it; a directory whose name starts with _ is no package of ./... .
OPENAPI_OUT := $(BIN)/_openapi
# The Go REST client of the end-to-end tests, generated from the document.
RESTCLIENT_CONFIG := test/e2e/restclient/oapi-codegen.yaml

PROGRAMS := registry gateway socmgmt activity handover pension casework
registry_PKG := ./services/registry/cmd/registry
gateway_PKG  := ./gateway/cmd/gateway
socmgmt_PKG  := ./cmd/socmgmt
pension_PKG  := ./services/pension/cmd/pension
activity_PKG := ./services/activity/cmd/activity
handover_PKG := ./services/handover/cmd/handover
casework_PKG := ./services/casework/cmd/casework

GENERATED := proto gateway/openapi test/e2e/restclient $(CONSOLE_TYPES) $(CONSOLE_DIST)

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
test: ## Run every test with the race detector (unit, service, end-to-end), and those of the nested modules (the image builder, the Kubernetes manifests' check).
	$(GO) test -race -shuffle=on -count=1 -timeout 20m ./...
	cd deploy/kubernetes/check && $(GO) test -race -count=1 ./...
	cd $(IMAGES_MOD) && $(GO) test -race -shuffle=on -count=1 -timeout 20m ./...

.PHONY: test-short
test-short: ## Run the tests without the race detector, skipping end-to-end tests.
	$(GO) test -short -count=1 ./...

# The container images: one per program, socmgmt/<program>:$(IMAGE_TAG),
# built by tools/images (its own Go module, so that the image writer's
# dependencies stay out of the programs' go.mod) without a container
# daemon. The tag defaults to git describe; the files' times and the
# images' creation time are the commit's (SOURCE_DATE_EPOCH), so that one
# commit gives the same digests on any machine with the same Go.
IMAGES_MOD        := tools/images
IMAGES_OUT        := $(BIN)/images
IMAGE_TAG         ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
IMAGE_REVISION    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: images
images: ## Build one OCI image per program into bin/images (<program>/ layout, <program>.tar for docker load); prints digests. IMAGE_TAG=… sets the tag.
	cd $(IMAGES_MOD) && $(GO) run . --root $(CURDIR) --out $(IMAGES_OUT) \
		--tag '$(IMAGE_TAG)' --revision '$(IMAGE_REVISION)' --source-date-epoch '$(SOURCE_DATE_EPOCH)'

.PHONY: bench
bench: build ## Run the Go benchmarks and the load harness; prints the figures table; then the console's first screen in headless chromium.
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=2000x ./internal/... ./services/...
	$(GO) run ./scripts/bench --bin $(BIN)
	$(GO) test -run='^$$' -bench='^BenchmarkConsoleFirstScreen$$' -benchtime=1x ./test/e2e/

# The city of issue 18: grown to each of CITY_SIZES retirees in turn and
# measured at each. At 2,000,000 it takes about an hour and some 30 GB
# of disk under $TMPDIR; not in CI, not in make bench.
CITY_SIZES   ?= 200000,500000,1000000,2000000
CITY_TIMEOUT ?= 4h

.PHONY: bench-city
bench-city: build ## Grow one city to 200,000, 500,000, 1,000,000 and 2,000,000 retirees (CITY_SIZES) and measure it at each: load times, disk, memory, GetRetiree, lists, projection rebuilds.
	$(GO) run ./scripts/bench --bin $(BIN) --scenarios city --city-sizes $(CITY_SIZES) --timeout $(CITY_TIMEOUT)

# The hot paths' Go benchmarks that bench/baseline.txt keeps: the store's
# get, the token check, the interceptor chain, a read's audit record, the
# gateway's JSON encoding and its whole handler. -count=6 gives benchstat
# enough samples to say whether a difference is noise.
HOT_BENCH      := ^Benchmark(StoreGetRetiree|Authenticate|ServiceChain|NewRequest|GatewayMarshal|GatewayGetRetiree)$$
HOT_BENCH_PKGS := ./services/registry ./internal/authn ./internal/grpcserver ./internal/audit ./gateway
HOT_BENCH_RUN  := $(GO) test -run='^$$' -bench='$(HOT_BENCH)' -benchmem -count=6 $(HOT_BENCH_PKGS)
BASELINE       := bench/baseline.txt
# BASELINE_NOTE, when set, is one more comment line in the baseline: how
# the machine was when it was recorded.
BASELINE_NOTE  ?=

.PHONY: bench-baseline
bench-baseline: ## Record the hot paths' benchmarks into bench/baseline.txt (do it on a quiet machine).
	@mkdir -p $(dir $(BASELINE))
	{ echo "# The hot paths' benchmarks (make bench-baseline), recorded $$(date -u +%Y-%m-%dT%H:%MZ) at $$(git rev-parse --short HEAD)"; \
	  echo "# on $$(nproc) CPUs; make bench-compare compares a new run with it."; \
	  if [ -n "$(BASELINE_NOTE)" ]; then echo "# $(BASELINE_NOTE)"; fi; \
	  $(HOT_BENCH_RUN); } > $(BASELINE).tmp
	mv $(BASELINE).tmp $(BASELINE)

.PHONY: bench-compare
bench-compare: $(TOOL_STAMP) ## Run the hot paths' benchmarks and compare them with bench/baseline.txt (benchstat).
	@mkdir -p $(BIN)
	$(HOT_BENCH_RUN) > $(BIN)/bench-new.txt
	benchstat $(BASELINE) $(BIN)/bench-new.txt

.PHONY: lint
lint: $(TOOL_STAMP) ## go vet, gofmt, golangci-lint (.golangci.yml), buf lint and buf format check.
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\(\.gw\)\?\.go$$')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	golangci-lint run ./...
	cd deploy/kubernetes/check && $(GO) vet ./... && golangci-lint run ./...
	cd $(IMAGES_MOD) && $(GO) vet ./... && golangci-lint run ./...
	buf lint
	buf format --diff --exit-code

.PHONY: generate
generate: $(TOOL_STAMP) $(NPM_STAMP) $(CONSOLE_STAMP) ## Regenerate Go, gateway and OpenAPI code from the protos, the e2e tests' REST client and the console's types from /openapi.json, and build the console.
	rm -rf gateway/openapi
	find proto -name '*.pb.go' -o -name '*.pb.gw.go' | xargs -r rm -f
	buf generate
	@mkdir -p $(OPENAPI_OUT)
	$(GO) run ./scripts/openapidoc -o $(OPENAPI_OUT)/openapi.json
	oapi-codegen -config $(RESTCLIENT_CONFIG) -o test/e2e/restclient/client.gen.go $(OPENAPI_OUT)/openapi.json
	$(NPM_BIN)/openapi-typescript $(OPENAPI_OUT)/openapi.json -o $(CONSOLE_TYPES)
	$(MAKE) console

.PHONY: console
console: $(CONSOLE_STAMP) ## Build the web console (typecheck, then Vite) into gateway/console/dist, which the gateway embeds.
	cd $(CONSOLE_DIR) && npm run build

.PHONY: openapi-check
# No telemetry and no update check: the checks read only the document.
openapi-check: export REDOCLY_TELEMETRY := off
openapi-check: export REDOCLY_SUPPRESS_UPDATE_NOTICE := true
openapi-check: tools ## Lint the served OpenAPI document (Redocly, Spectral); generate and compile a TypeScript and a Go client from it.
	@mkdir -p $(OPENAPI_OUT)/go
	$(GO) run ./scripts/openapidoc -o $(OPENAPI_OUT)/openapi.json
	$(NPM_BIN)/redocly lint --config $(NPM_TOOLS)/redocly.yaml $(OPENAPI_OUT)/openapi.json
	$(NPM_BIN)/spectral lint --ruleset $(NPM_TOOLS)/.spectral.yaml --fail-severity=hint $(OPENAPI_OUT)/openapi.json
	$(NPM_BIN)/openapi-typescript $(OPENAPI_OUT)/openapi.json -o $(NPM_TOOLS)/client/schema.d.ts
	$(NPM_BIN)/tsc -p $(NPM_TOOLS)/tsconfig.json
	oapi-codegen -config $(RESTCLIENT_CONFIG) -o $(OPENAPI_OUT)/go/client.gen.go $(OPENAPI_OUT)/openapi.json
	$(GO) vet $(OPENAPI_OUT)/go/client.gen.go

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
tools: $(TOOL_STAMP) $(NPM_STAMP) $(CONSOLE_STAMP) $(ICALJS_DIR)/node_modules/.package-lock.json browser ## Install the pinned tools: Go ones into .tools/bin, npm ones (OpenAPI checks, the console's build, ical.js for the calendar test) with npm ci, and chromium for the browser tests.

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
	GOBIN=$(TOOLS) $(GO) install github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@$(OAPI_CODEGEN_VERSION)
	GOBIN=$(TOOLS) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
	@rm -f $(CURDIR)/.tools/stamp-* && touch $@

# The browser tests' chromium and Chinese font, from the machine's Debian
# packages: installed as root when missing, else a clear error.
.PHONY: browser
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -f $(CHINESE_FONT) ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make tools: WARNING: $(CHROMIUM) or $(CHINESE_FONT) is missing, and only root can install them; the browser tests (make test) will fail until then. As root: apt-get update && apt-get install -y --no-install-recommends $(BROWSER_PKGS)"; exit 0; \
		fi; \
		command -v apt-get >/dev/null || { echo "make tools: no apt-get; install $(BROWSER_PKGS) (Debian's packages) by hand"; exit 1; }; \
		echo "apt-get install $(BROWSER_PKGS)"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(BROWSER_PKGS); \
	fi

# npm ci installs exactly the lock file, from npm's cache when it has the
# packages; .npmrc there turns off install scripts, audits and notices.
$(NPM_STAMP): $(NPM_TOOLS)/package.json $(NPM_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "make tools: npm not found; the OpenAPI checks need Node.js 20.19+ and npm"; exit 1; }
	cd $(NPM_TOOLS) && npm ci --prefer-offline --loglevel=error
	@touch $@

$(CONSOLE_STAMP): $(CONSOLE_DIR)/package.json $(CONSOLE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "make console: npm not found; the console's build needs Node.js 20.19+ and npm"; exit 1; }
	cd $(CONSOLE_DIR) && npm ci --prefer-offline --loglevel=error
	@touch $@

.PHONY: clean
clean: ## Remove build output (not the data in ./var).
	rm -rf $(BIN)
