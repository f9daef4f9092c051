"""Gathers the coverage corpus: real ONNX models available offline, with input sets and manifests.

For each model (see corpus.py for the list and the sources) this writes
``<cache>/<name>/model.onnx``, ``calib.npz`` and ``check.npz`` (one array
per input name, samples on a leading axis; disjoint sets) and
``manifest.json`` (source and version, exporter, opset, layout, inputs with
their declared dims, op counts, notes), plus ``<cache>/index.json``.
Models are skipped when their manifest is already there (``--force`` redoes
them). A model that cannot be gathered (package missing, export failing) is
reported and listed in the index with its error; the others go on.

Usage:
  python bench/corpus/gather.py [--cache DIR] [--models a,b] [--calib 32] [--check 16] [--force]
  python bench/corpus/gather.py --list
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import DEFAULT_CALIB, DEFAULT_CHECK, MODELS, CorpusError, default_cache, gather_model, select  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=None,
                        help="corpus directory (default: $QUANTUNE_CORPUS or ~/.cache/quantune-corpus)")
    parser.add_argument("--models", help="comma-separated subset (default: all)")
    parser.add_argument("--test-subset", action="store_true", help="only the models of the fast test subset")
    parser.add_argument("--calib", type=int, default=DEFAULT_CALIB, help=f"calibration samples (default {DEFAULT_CALIB})")
    parser.add_argument("--check", type=int, default=DEFAULT_CHECK, help=f"check samples (default {DEFAULT_CHECK})")
    parser.add_argument("--force", action="store_true", help="gather again even if the manifest is there")
    parser.add_argument("--list", action="store_true", help="list the models and exit")
    args = parser.parse_args(argv)
    if args.list:
        for m in MODELS:
            print(f"{m.name:32s} {m.source:13s} {m.package or '':22s} {'test' if m.test else ''}")
        return 0
    cache = (args.cache or default_cache()).expanduser()
    try:
        models = select(args.models)
    except CorpusError as exc:
        print(f"gather: error: {exc}", file=sys.stderr)
        return 2
    if args.test_subset:
        models = [m for m in models if m.test]
    cache.mkdir(parents=True, exist_ok=True)
    index_path = cache / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    failed = 0
    for m in models:
        start = time.perf_counter()
        try:
            out = gather_model(m, cache, args.calib, args.check, args.force,
                               log=lambda s: print(f"[gather] {s}", file=sys.stderr, flush=True))
            index[m.name] = {"status": "ok", "dir": str(out)}
            print(f"[gather] {m.name}: ok ({time.perf_counter() - start:.1f}s)", file=sys.stderr, flush=True)
        except CorpusError as exc:
            failed += 1
            index[m.name] = {"status": "missing", "error": str(exc)}
            print(f"[gather] {m.name}: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:  # an exporter failure: record its last line and go on
            failed += 1
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            index[m.name] = {"status": "error", "error": f"{type(exc).__name__}: {line}"[:400]}
            print(f"[gather] {m.name}: FAILED {type(exc).__name__}: {line}", file=sys.stderr, flush=True)
            traceback.print_exc(limit=3, file=sys.stderr)
        index_path.write_text(json.dumps(index, indent=2) + "\n")
    ok = sum(1 for m in models if index.get(m.name, {}).get("status") == "ok")
    print(f"[gather] {ok}/{len(models)} models in {cache}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
