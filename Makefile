# capiform: the two commands a new user runs are `make demo` and `make test`.
# They need Go, make, git, bash and awk; everything else is built from the Go
# module proxy (test control planes into a cache folder outside the repo).
# Each long step says what it does and how long it took.

SHELL     := /bin/bash
GO        ?= go
BIN       ?= bin
CAPIFORM  := $(BIN)/capiform
PKGS      := ./...
# The packages that run work concurrently; make test runs them again under
# the race detector.
RACE_PKGS := ./tools/source ./tools/load ./tools/policy ./tools/expand ./tools/render ./tools/pipeline ./tools/diff
# The envtest kube-apiserver and etcd: an exact version, so that a new
# upstream patch never starts a rebuild by surprise (cached outside the repo).
ENVTEST_K8S_VERSION ?= v1.36.5
export ENVTEST_K8S_VERSION
# make bench: the generated fleet (sites x clusters per site) and the runs of
# each stage; helm is built by hack/helm.sh (HELM_VERSION, default v4.2.4).
BENCH_SITES    ?= 10
BENCH_CLUSTERS ?= 100
BENCH_RUNS     ?= 3

# took prints how long a step took: $(call took,WHAT,START) with START the
# shell's $$SECONDS when the step began.
took = printf '   %s took %dm%02ds\n' '$(1)' $$(( (SECONDS - $(2)) / 60 )) $$(( (SECONDS - $(2)) % 60 ))

.PHONY: all build demo diff-sample test test-short bench bench-go fuzz render check validate lint fmt clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

build: ## build bin/capiform (only the binary and what it imports, no test code)
	@echo "== compiling capiform and its dependencies into $(CAPIFORM) (the first time about 1700 packages, the modules downloaded first: 12 minutes on an idle 2-core machine, more under load; seconds after)"
	@start=$$SECONDS; $(GO) build -o $(CAPIFORM) ./tools/cmd/capiform && $(call took,compiling,$$start)

demo: build ## validate and check the example fleet, then summarise it
	@echo "== capiform validate"
	@$(CAPIFORM) validate
	@echo "== capiform render --check (expands every cluster, verifies every object, builds every path; seconds)"
	@start=$$SECONDS; $(CAPIFORM) render --check && $(call took,render --check,$$start)
	@echo "== capiform summary"
	@$(CAPIFORM) summary
	@echo "== done: the binary is $(CAPIFORM); put it on PATH with: export PATH=\"$$PWD/$(BIN):\$$PATH\""

render: build ## rewrite clusters/<site>/generated/ from the definitions
	$(CAPIFORM) render

check: build ## is the committed generated tree up to date and sound?
	$(CAPIFORM) render --check

validate: build ## check the definitions against the schemas and site policy
	$(CAPIFORM) validate

diff-sample: build ## show the diff of a sample change to the example fleet (this checkout is not touched)
	@hack/diff-sample.sh

test: ## run every test, envtest control planes included (built on first use); the concurrent packages run under the race detector
	@set -o pipefail; all=$$SECONDS; \
	  echo "== [1/3] the test control plane: kube-apiserver and etcd $(ENVTEST_K8S_VERSION) for envtest (built once: about 12-14 minutes on an idle 2-core machine, 26 was seen under load, and 2.5 GB of memory; then cached)"; \
	  start=$$SECONDS; assets="$$(hack/envtest-assets.sh | tail -n1)" && \
	  echo "   envtest assets: $$assets" && $(call took,the control plane,$$start) && \
	  echo "== [1/3] Flux's source-controller and kustomize-controller v1.9.6 for the GitOps loop test (tools/fluxloop), from their own module (built once: about 1900 packages, 10-20 minutes on an idle 2-core machine, much more under load; then cached by the go command)" && \
	  start=$$SECONDS && \
	  (cd tools/internal/fluxenv/controllers && for c in source-controller kustomize-controller; do \
	    GOWORK=off GOFLAGS=-mod=mod $(GO) tool -n github.com/fluxcd/$$c >/dev/null || exit 1; done) && \
	  $(call took,the Flux controllers,$$start) && \
	  logs="$$(mktemp -d)" && \
	  race="$$($(GO) list $(RACE_PKGS))" && \
	  pkgs="$$($(GO) list $(PKGS) | grep -vxF "$$race")" || exit 2; \
	  echo "== [2/3] compiling and running the tests of every package but the concurrent ones (the first time their dependencies compile for several minutes before the first line; then a line per package)"; \
	  start=$$SECONDS; \
	  KUBEBUILDER_ASSETS="$$assets" $(GO) test -count=1 -timeout 60m $$pkgs 2>&1 | tee "$$logs/test.log"; \
	  status=$${PIPESTATUS[0]}; \
	  $(call took,the tests,$$start); \
	  echo "== [3/3] the packages that work concurrently, under the race detector (the first time their dependencies compile again, instrumented, for several minutes)"; \
	  start=$$SECONDS; \
	  KUBEBUILDER_ASSETS="$$assets" $(GO) test -race -count=1 -timeout 30m $(RACE_PKGS) 2>&1 | tee "$$logs/race.log"; \
	  [ "$${PIPESTATUS[0]}" -eq 0 ] || status=1; \
	  $(call took,the race detector run,$$start); \
	  echo "== go test summary"; \
	  printf '%s packages ok, %s packages failed, %s packages without tests\n' \
	    "$$(grep -c '^ok' "$$logs/test.log")" "$$(grep -c '^FAIL[[:space:]]' "$$logs/test.log")" "$$(grep -c '^?' "$$logs/test.log")"; \
	  printf 'race detector: %s packages ok, %s packages failed\n' \
	    "$$(grep -c '^ok' "$$logs/race.log")" "$$(grep -c '^FAIL[[:space:]]' "$$logs/race.log")"; \
	  grep -hE '^(--- FAIL|FAIL|WARNING: DATA RACE)' "$$logs/test.log" "$$logs/race.log" || true; \
	  $(call took,make test,$$all); \
	  rm -rf "$$logs"; exit $$status

test-short: ## run the tests that need no API server
	$(GO) test -count=1 $(PKGS)

bench: build ## time each stage as its own process on a generated fleet, against a helm template loop; exits 1 when a target is missed
	@set -o pipefail; \
	  echo "== helm, for the helm template loop capiform is compared with (built once: a few minutes the first time; then cached)"; \
	  start=$$SECONDS; helm="$$(hack/helm.sh | tail -n1)" && $(call took,helm,$$start) && \
	  echo "== the benchmark: $(BENCH_SITES) sites x $(BENCH_CLUSTERS) clusters, each stage $(BENCH_RUNS) times, then the helm loop once (several minutes)" && \
	  start=$$SECONDS && \
	  { $(GO) run ./tools/cmd/fleetbench -capiform $(CAPIFORM) -helm "$$helm" \
	    -sites $(BENCH_SITES) -clusters $(BENCH_CLUSTERS) -runs $(BENCH_RUNS); status=$$?; } && \
	  $(call took,the benchmark,$$start); exit $$status

bench-go: ## run the Go benchmarks of every package (go test -bench)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(PKGS)

FUZZTIME ?= 60s
fuzz: ## fuzz the parsers, a minute each: the definition loader, the manifest decoder, the YAML writer, the kustomization pre-check, the credential detector, the importer
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) ./tools/load/
	$(GO) test -run '^$$' -fuzz FuzzDecodeDoc -fuzztime $(FUZZTIME) ./tools/expand/
	$(GO) test -run '^$$' -fuzz FuzzSplitManifests -fuzztime $(FUZZTIME) ./tools/expand/
	$(GO) test -run '^$$' -fuzz FuzzFastYAML -fuzztime $(FUZZTIME) ./tools/render/
	$(GO) test -run '^$$' -fuzz FuzzKustomizationCheck -fuzztime $(FUZZTIME) ./tools/kustomize/
	$(GO) test -run '^$$' -fuzz FuzzCredentials -fuzztime $(FUZZTIME) ./tools/credentials/
	$(GO) test -run '^$$' -fuzz FuzzImport -fuzztime $(FUZZTIME) ./tools/importer/

lint: ## go vet, gofmt, and the chart's helm lint (a Go test with the Helm SDK)
	$(GO) vet $(PKGS)
	@out="$$(gofmt -l tools)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) test -count=1 -run 'Lint' ./tools/expand/

fmt: ## format the Go code
	gofmt -w tools

clean: ## remove built binaries
	rm -rf $(BIN)
