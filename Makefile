# Quantune-MLIR. `make demo` and `make test` each set everything up first
# (scripts/setup.sh is idempotent and fast when nothing changed).

VENV  ?= .venv
BUILD ?= build
LIT   ?= /usr/lib/llvm-22/bin/lit
CLANG_FORMAT ?= /usr/lib/llvm-22/bin/clang-format
PY    := $(VENV)/bin/python

.PHONY: all setup build demo test lit pytest bench coverage format clean help

all: setup

help:
	@echo "make demo    set up, then run the end-to-end demo on the bundled model"
	@echo "make test    set up, then run the lit suite and the pytest suite"
	@echo "make setup   Debian packages, venv, pip install, C++ build (idempotent)"
	@echo "make lit     only the lit + FileCheck tests (after setup)"
	@echo "make pytest  only the Python tests (after setup)"
	@echo "make bench   set up (with torch and Fashion-MNIST), run the benchmarks (JSON in bench/results/), regenerate docs/results.md"
	@echo "make coverage  set up (with torch and the model packages), gather the real-model corpus, run it, regenerate docs/coverage.md"
	@echo "               (MODELS=a,b for a subset; COVERAGE_TIMEOUT=seconds per quantize run, default 600)"
	@echo "make format  clang-format the C++ sources (apt-get install clang-format-22)"

setup:
	@bash scripts/setup.sh

build: setup

demo: setup
	$(VENV)/bin/quantune demo --workdir out/demo

lit:
	$(LIT) -sv $(BUILD)/test

pytest:
	$(PY) -m pytest

test: setup
	$(MAKE) --no-print-directory lit
	$(MAKE) --no-print-directory pytest

# Each benchmark writes its JSON to bench/results/ (kept in git, so a later
# run of one benchmark can refresh its own sections of docs/results.md with
# `bench/report.py bench/results --update docs/results.md`); work files and
# caches go to bench/out/ (ignored).
RESULTS ?= bench/results
bench:
	@QUANTUNE_BENCH=1 bash scripts/setup.sh
	mkdir -p bench/out $(RESULTS)
	$(PY) bench/bench_analysis.py --out $(RESULTS)/analysis.json --size 224 --calib 256 --depths 18,50 --sweep-depths 18 --recompile-depths 18 --widths ""
	$(PY) bench/bench_rank.py --out $(RESULTS)/rank.json
	$(PY) bench/bench_lowering.py --out $(RESULTS)/lowering.json
	$(PY) bench/zoo/train.py
	$(PY) bench/bench_zoo.py --out $(RESULTS)/zoo.json
	$(PY) bench/bench_zoo_accuracy.py --out $(RESULTS)/zoo_accuracy.json
	$(PY) bench/bench_int4.py --out $(RESULTS)/int4.json
	$(PY) bench/bench_pretrained.py --out $(RESULTS)/pretrained.json
	$(PY) bench/calib_count_study.py --net pp_lcnet --counts 256,512,1024 --out $(RESULTS)/calib_count.json
	$(PY) bench/bench_latency.py --out $(RESULTS)/latency.json
	$(PY) bench/report.py $(RESULTS) > docs/results.md.tmp && mv docs/results.md.tmp docs/results.md

# The real-model coverage corpus (bench/corpus): models and inputs are cached
# outside git ($$QUANTUNE_CORPUS or ~/.cache/quantune-corpus), results per model
# and mode too, so a rerun only redoes what changed.
COVERAGE_TIMEOUT ?= 600
coverage:
	@QUANTUNE_BENCH=1 bash scripts/setup.sh
	$(PY) bench/corpus/gather.py $(if $(MODELS),--models $(MODELS))
	$(PY) bench/corpus/run.py --timeout $(COVERAGE_TIMEOUT) $(if $(MODELS),--models $(MODELS))

format:
	find dialect tools -name '*.cpp' -o -name '*.h' | xargs $(CLANG_FORMAT) -i

clean:
	rm -rf $(BUILD) out .stamps
