# The README's two commands for a fresh machine are `make run` and `make test`.
GO ?= go
# MariaDB as the machine (and CI) runs it; `make test-mysql` uses it.
MYSQL_TEST_DSN ?= root@tcp(127.0.0.1:3306)/test
REDIS_TEST_ADDR ?= 127.0.0.1:6379
TEST_FLAGS ?= -race -count=1 -timeout 14m

# Each fuzz target as package:Func; `make fuzz` runs each for FUZZ_TIME.
# A count of inputs, not a duration: Go 1.26's coordinator can fail a
# target with a bare "context deadline exceeded" when a duration runs out
# while a worker is busy (go.dev/issue/75804, fixed in Go 1.27), and did in
# CI. 10,000 inputs take from half a second (model) to a minute (api) here.
FUZZ_TIME ?= 10000x
FUZZ_TARGETS = ./api:FuzzRequestBodies ./service:FuzzParseMentions ./service:FuzzDecodeCursor \
	./notify:FuzzParseClientFrame ./notify:FuzzDeliver ./model:FuzzLoneSurrogate ./service/markdown:FuzzRender

.PHONY: run build test test-mysql lint migrate fuzz clean

## run: serve on :8080 with the embedded SQLite database in ./data
run:
	$(GO) run ./cmd/discuss serve

## build: build the binaries into ./bin (discuss without `seed`: see cmd/loadgen/bench.sh)
build:
	$(GO) build -o bin/discuss ./cmd/discuss
	$(GO) build -o bin/loadgen ./cmd/loadgen

# The load-test build of cmd/discuss adds `discuss seed`; its tests run
# in that build only.
LOADTEST_FLAGS = -tags loadtest -run 'Seed'
# Tests with a time bound, run again without the race detector, which
# slows them several times over: under it they check only the plumbing.
TIMED_FLAGS = -count=1 -timeout 5m -run 'TestFanoutTenThousandWatchers'
# Tests that count allocations, which the race detector's own make
# meaningless, run again without it.
ALLOC_FLAGS = -count=1 -run 'AllocatesNothing'

## test: every test (MySQL when DISCUSS_TEST_MYSQL_DSN is set, else SQLite); the fuzz
## targets run their seed corpora as plain tests. Timed fuzzing is `make fuzz` (CI runs both):
## each target builds its package again with coverage instrumentation, a minute apiece on a
## fresh machine.
test:
	$(GO) test $(TEST_FLAGS) ./...
	$(GO) test $(TEST_FLAGS) $(LOADTEST_FLAGS) ./cmd/discuss
	$(GO) test $(TIMED_FLAGS) ./service
	$(GO) test $(ALLOC_FLAGS) ./notify

## fuzz: run every fuzz target briefly (FUZZ_TIME each); seeds live in testdata/fuzz
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn, -fuzztime $(FUZZ_TIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZ_TIME) $$pkg || exit 1; \
	done

## test-mysql: every test against the local MariaDB and Redis
test-mysql:
	DISCUSS_TEST_MYSQL_DSN='$(MYSQL_TEST_DSN)' DISCUSS_TEST_REDIS_ADDR='$(REDIS_TEST_ADDR)' \
		$(GO) test $(TEST_FLAGS) ./...
	DISCUSS_TEST_MYSQL_DSN='$(MYSQL_TEST_DSN)' $(GO) test $(TEST_FLAGS) $(LOADTEST_FLAGS) ./cmd/discuss
	DISCUSS_TEST_MYSQL_DSN='$(MYSQL_TEST_DSN)' $(GO) test $(TIMED_FLAGS) ./service
	$(GO) test $(ALLOC_FLAGS) ./notify

## lint: gofmt, go vet and staticcheck must all be clean
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags loadtest ./cmd/discuss
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags loadtest ./cmd/discuss

## migrate: run a migration command, e.g. `make migrate ARGS=status`
ARGS ?= status
migrate:
	$(GO) run ./cmd/discuss migrate $(ARGS)

clean:
	rm -rf bin
