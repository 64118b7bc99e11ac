# Haven — the two commands are `make run` and `make test`.
# Every tool the targets need is built from the Go module proxy into ./bin at
# a pinned version the first time; nothing else needs installing but Go.

SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
export GOFLAGS := -buildvcs=false

TEMPORAL_VERSION      := v1.5.1
GOLANGCI_LINT_VERSION := v2.15.0
HELM_VERSION          := v3.19.0

MODULE_DIRS := libs platform/router platform/devstack platform/vaultdev charts \
	services/identity services/scheduling services/charting \
	services/billing services/messaging services/audit
ROOT     := github.com/havenhealth/haven
PACKAGES := $(foreach m,$(MODULE_DIRS),$(ROOT)/$(m)/...)
COMMANDS := $(ROOT)/platform/router/cmd/router $(ROOT)/platform/devstack/cmd/devstack $(ROOT)/platform/vaultdev/cmd/vaultdev \
	$(foreach s,identity scheduling charting billing messaging audit,$(ROOT)/services/$(s)/cmd/$(s))

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all run build test test-module lint bench charts tools clean

all: build

## run: build everything and start all four regions (Ctrl-C stops them)
run: build $(BIN)/temporal
	@$(BIN)/devstack --bin $(BIN) --temporal $(BIN)/temporal

## build: compile the router, the devstack and the six services into ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ $(COMMANDS)

## test: every module's tests (set HAVEN_TEST_POSTGRES_URL / HAVEN_TEST_REDIS_URL for the real servers)
test: $(BIN)/temporal
	HAVEN_TEMPORAL_BIN=$(BIN)/temporal $(GO) test -count=1 -p 2 -timeout 20m $(PACKAGES)

## test-module: one module's tests, e.g. make test-module MOD=services/identity
test-module: $(BIN)/temporal
	HAVEN_TEMPORAL_BIN=$(BIN)/temporal $(GO) test -count=1 -timeout 20m $(ROOT)/$(MOD)/...

## lint: gofmt, go vet and golangci-lint over every module
lint: $(BIN)/golangci-lint
	@unformatted=$$(gofmt -l $(MODULE_DIRS)); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@for m in $(MODULE_DIRS); do (cd $$m && $(GO) mod tidy -diff >/dev/null) || { echo "go.mod/go.sum of $$m are not tidy: run go mod tidy there (Docker builds each module alone)"; exit 1; }; done
	$(GO) vet $(PACKAGES)
	@for m in $(MODULE_DIRS); do echo "golangci-lint $$m"; (cd $$m && $(BIN)/golangci-lint run --allow-parallel-runners --config $(CURDIR)/.golangci.yml ./...) || exit 1; done

## bench: every Benchmark function, with memory figures (BenchmarkMe starts the devstack)
bench: $(BIN)/temporal
	HAVEN_TEMPORAL_BIN=$(BIN)/temporal $(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m $(PACKAGES)

## charts: build chart dependencies, lint and render every region (needs helm, installed into ./bin)
charts: $(BIN)/helm
	@for c in identity scheduling charting billing messaging audit haven-router; do $(BIN)/helm dependency build charts/$$c >/dev/null || exit 1; done
	$(BIN)/helm dependency build charts/haven-region
	@for r in montreal portland sydney london; do \
		$(BIN)/helm lint charts/haven-region -f charts/haven-region/values-$$r.yaml || exit 1; \
		$(BIN)/helm template haven charts/haven-region -f charts/haven-region/values-$$r.yaml > $(BIN)/haven-$$r.yaml || exit 1; \
		echo "rendered $(BIN)/haven-$$r.yaml"; done

tools: $(BIN)/temporal $(BIN)/golangci-lint

# Pinned tools, rebuilt when the version changes (the stamp file records it).
$(BIN)/temporal: $(BIN)/.temporal-$(TEMPORAL_VERSION)
$(BIN)/.temporal-$(TEMPORAL_VERSION):
	@mkdir -p $(BIN)
	@echo "Building the Temporal CLI $(TEMPORAL_VERSION) from source (first time only, a few minutes)…"
	GOWORK=off GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_VERSION)
	@rm -f $(BIN)/.temporal-* && touch $@

$(BIN)/golangci-lint: $(BIN)/.golangci-lint-$(GOLANGCI_LINT_VERSION)
$(BIN)/.golangci-lint-$(GOLANGCI_LINT_VERSION):
	@mkdir -p $(BIN)
	@echo "Building golangci-lint $(GOLANGCI_LINT_VERSION) (first time only)…"
	GOWORK=off GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@rm -f $(BIN)/.golangci-lint-* && touch $@

$(BIN)/helm: $(BIN)/.helm-$(HELM_VERSION)
$(BIN)/.helm-$(HELM_VERSION):
	@mkdir -p $(BIN)
	GOWORK=off GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@rm -f $(BIN)/.helm-* && touch $@

clean:
	rm -rf $(BIN)
