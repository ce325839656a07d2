# orchard — build, test, benchmark.
#
# The two commands a newcomer needs (README):
#   make demo   builds orchard, generates the sample office capture and
#               analyses it with the embedded sample configuration
#   make test   installs what the tests need (as root: tshark, dovecot,
#               postfix, dnsmasq, tcpdump, tcpreplay, clang) and runs them all

GO        ?= go
GOFLAGS   ?=
BIN       := bin/orchard
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
OUT       := .out
# bpf2go needs a clang with the BPF target; Debian 12's clang-14 is pinned.
CLANG     ?= clang-14
FUZZTIME  ?= 10s

.PHONY: all build test test-go deps lint vet fuzz bench bench-live demo generate check-generated clean

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./agent/cmd/orchard

# deps installs, as root and only when missing, the tools the tests use.
deps:
	bash scripts/setup-test-deps.sh

test:
	bash scripts/test.sh

test-go:
	$(GO) test $(GOFLAGS) -count=1 -timeout 25m ./...

vet:
	$(GO) vet ./...

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# fuzz runs every native fuzz target briefly (FUZZTIME each).
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

# bench: throughput and memory of orchard analyze on generated captures,
# compared with tshark; Go micro-benchmarks of the parsers.
bench: build
	bash scripts/bench.sh

bench-live: build
	bash scripts/bench-live.sh

demo: build
	@mkdir -p $(OUT)
	@$(GO) run ./scripts/gencap/cmd/gencap -kind sample -o $(OUT)/sample.pcap -labels $(OUT)/sample.labels.json >/dev/null
	@echo "== orchard analyze --summary $(OUT)/sample.pcap (embedded sample config)"
	@./$(BIN) analyze --summary $(OUT)/sample.pcap

generate:
	cd bpf && CLANG=$(CLANG) $(GO) generate ./...

# check-generated regenerates the eBPF objects and fails if they differ
# from what is committed.
check-generated: generate
	git diff --exit-code -- bpf/

clean:
	rm -rf bin $(OUT)
