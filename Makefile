# ferry's tasks. `make` lists them.
GO       ?= go
GOBIN    := $(shell $(GO) env GOPATH)/bin
FUZZTIME ?= 15s
# Tests find versitygw and staticcheck where scripts/deps.sh installs them.
export PATH := $(GOBIN):$(PATH)

.PHONY: help build test race unit fuzz lint deps bench run clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/ferry
	$(GO) build -o bin/ferry ./cmd/ferry

run: ## run a master on 127.0.0.1:6379
	$(GO) run ./cmd/ferry master

deps: ## install what the tests need (redis-server 7.0, redis-tools, staticcheck)
	bash scripts/deps.sh

test: deps lint race fuzz ## the full suite CI runs: lint, race tests, a brief fuzz run

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

race: ## every test with the race detector; the server's and compat's again with a goroutine per connection
	$(GO) test -race -count=1 -timeout 20m ./...
	FERRY_TEST_EVENT_LOOP=false $(GO) test -race -count=1 -timeout 20m ./internal/server ./internal/compat

unit: ## every test, no race detector (quick)
	$(GO) test -count=1 ./...

# A brief run does not minimize the new inputs it finds: minimizing one
# takes up to a minute with no executions meanwhile, and a run whose time
# ends during it can fail with "context deadline exceeded" having found
# nothing. A failing input is still written to testdata/fuzz. scripts/fuzz.sh
# runs a target once more when it ends that way without a failing input.
FUZZFLAGS = -fuzztime=$(FUZZTIME) -fuzzminimizetime=0

fuzz: ## run each fuzz target briefly (FUZZTIME, default 15s)
	bash scripts/fuzz.sh FuzzReader ./internal/resp $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzLoad ./snapshot/rdb $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzRestore ./snapshot/rdb $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzParse ./httpapi $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzRequest ./httpapi $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzUnmarshalManifest ./snapshot $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzHLL ./internal/hll $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzCjsonDecode ./internal/luaenv $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzCmsgpackUnpack ./internal/luaenv $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzApply ./internal/command $(FUZZFLAGS)
	bash scripts/fuzz.sh FuzzReplicate ./internal/command $(FUZZFLAGS)

bench: ## redis-benchmark against ferry and redis-server side by side
	bash bench/redis-benchmark.sh

clean: ## remove build outputs
	rm -rf bin
