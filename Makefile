# ModelFactory — the two commands are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/modelfactory
# Tests start their own PostgreSQL clusters, dev chains and S3 server; give
# the whole suite room on a 2-core machine.
TEST_TIMEOUT ?= 30m

.PHONY: run test build generate contracts vendor check-generated vet bench fuzz clean

## run: start ModelFactory on embedded defaults (PostgreSQL, objects, dev chain) and print the URL
run:
	@scripts/ensure-deps.sh postgres
	$(GO) build -o $(BIN) ./cmd/modelfactory
	MF_DEV=$${MF_DEV-1} ./$(BIN) serve

## test: every test — generated-code checks, vet, unit, store, contract, S3 and browser tests
test:
	@scripts/ensure-deps.sh postgres chromium
	scripts/check-generated.sh
	scripts/ensure-tools.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

build:
	$(GO) build -o $(BIN) ./cmd/modelfactory

## generate: regenerate templ components (commit the *_templ.go files)
generate:
	$(GO) tool templ generate

## contracts: compile Solidity with npm solc and regenerate the Go bindings
contracts:
	bash chain/contracts/build.sh

## vendor: re-fetch htmx, its SSE extension and uPlot from npm into static/vendor
vendor:
	sh static/vendor.sh

check-generated:
	scripts/check-generated.sh

vet:
	$(GO) vet ./...

## bench: training throughput of the native trainer (see docs/benchmarks.md)
bench:
	$(GO) run ./cmd/modelfactory bench train --preset tiny
	$(GO) run ./cmd/modelfactory bench train --preset small

## fuzz: a short run of each fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./siwe

clean:
	rm -rf bin e2e/screenshots
