"""Benchmark the PII engine against stock Presidio on the labelled corpus.

Accuracy: precision / recall / F1 per entity type and language, and overall (micro), for
our engine and for stock Presidio (its predefined recognizers, no NLP model: a no-op NLP
engine). A detection counts as correct when it has the labelled type and overlaps the
labelled span by more than half of the labelled span's length and more than half of its own.

Speed and memory: each engine scans the same JSONL file in its own subprocess, ours
through the ``cdp pii scan`` command, the baseline through the same read-analyze-write loop;
we report texts/s and MB/s of the scanning loop (analyzer build time separately) and the
peak RSS of the process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).

    python scripts/bench/pii_bench.py --count 4000 --seed 7
    python scripts/bench/pii_bench.py --corpus heldout --count 2000 --seed 11
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TYPES = ("PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "CN_RESIDENT_ID", "CN_PASSPORT",
         "BANK_CARD", "LOCATION", "IP_ADDRESS", "HEALTH_TERM")
# Stock Presidio names for the same things.
STOCK_MAP = {"CREDIT_CARD": "BANK_CARD", "PHONE_NUMBER": "PHONE_NUMBER",
             "EMAIL_ADDRESS": "EMAIL_ADDRESS", "IP_ADDRESS": "IP_ADDRESS", "PERSON": "PERSON",
             "LOCATION": "LOCATION"}


# ---------------------------------------------------------------------------------------
# Workers (run in a subprocess so time and peak memory belong to one engine only)

def _rss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def worker_ours(inp: str, out: str) -> dict:
    t0 = time.perf_counter()
    from cdp.pii.analyzer import get_analyzer
    from cdp.pii.commands import pii

    get_analyzer()
    t1, c1 = time.perf_counter(), time.process_time()
    pii.main(["scan", "--input", inp, "--output", out], standalone_mode=False)
    t2, c2 = time.perf_counter(), time.process_time()
    return {"build_s": t1 - t0, "scan_s": t2 - t1, "cpu_s": c2 - c1, "rss_mb": _rss_mb()}


def worker_stock(inp: str, out: str) -> dict:
    t0 = time.perf_counter()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from cdp.pii.offline import offline_tld_extractor

    offline_tld_extractor()  # same courtesy as ours: no network for the suffix list
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    t1, c1 = time.perf_counter(), time.process_time()
    with open(inp, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            rec = json.loads(line)
            # stock recognizers exist for English only; Chinese text is scanned as "en"
            res = analyzer.analyze(text=rec["text"], language="en")
            dst.write(json.dumps({"id": rec["id"], "entities": [
                {"type": r.entity_type, "start": r.start, "end": r.end, "score": r.score}
                for r in res]}, ensure_ascii=False) + "\n")
    t2, c2 = time.perf_counter(), time.process_time()
    return {"build_s": t1 - t0, "scan_s": t2 - t1, "cpu_s": c2 - c1, "rss_mb": _rss_mb()}


def run_worker(kind: str, inp: str, out: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, inp, out],
                          capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# Scoring

def _match(gold: list[dict], pred: list[dict]) -> tuple[list[bool], list[bool]]:
    """One-to-one matching; returns (gold matched?, pred matched?)."""
    g_ok = [False] * len(gold)
    p_ok = [False] * len(pred)
    for i, g in enumerate(gold):
        for j, p in enumerate(pred):
            if p_ok[j] or p["type"] != g["type"]:
                continue
            overlap = min(g["end"], p["end"]) - max(g["start"], p["start"])
            if overlap * 2 > (g["end"] - g["start"]) and overlap * 2 > (p["end"] - p["start"]):
                g_ok[i] = p_ok[j] = True
                break
    return g_ok, p_ok


def score(corpus: list[dict], output: str, mapping: dict[str, str] | None) -> dict:
    preds = {}
    other = 0
    with open(output, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            ents = []
            for e in rec.get("entities", []):
                t = mapping.get(e["type"]) if mapping else e["type"]
                if t in TYPES:
                    ents.append({**e, "type": t})
                else:
                    other += 1
            preds[rec["id"]] = ents
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # tp fp fn
    for doc in corpus:
        pred = preds.get(doc["id"], [])
        g_ok, p_ok = _match(doc["entities"], pred)
        # _match returns one flag per gold and per predicted entity
        for g, ok in zip(doc["entities"], g_ok, strict=True):
            counts[(g["type"], doc["language"])][0 if ok else 2] += 1
        for p, ok in zip(pred, p_ok, strict=True):
            if not ok:
                counts[(p["type"], doc["language"])][1] += 1
    return {"counts": counts, "other": other}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def table(ours: dict, stock: dict) -> list[str]:
    rows = ["| type | lang | support | ours P | ours R | ours F1 | stock P | stock R | stock F1 |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def agg(counts, types, langs):
        tp = fp = fn = 0
        for (t, lang), (a, b, c) in counts.items():
            if t in types and lang in langs:
                tp, fp, fn = tp + a, fp + b, fn + c
        return tp, fp, fn

    for t in TYPES:
        for langs, label in ((("zh",), "zh"), (("en",), "en"), (("zh", "en"), "all")):
            o = agg(ours["counts"], (t,), langs)
            s = agg(stock["counts"], (t,), langs)
            support = o[0] + o[2]
            if not support and not o[1]:
                continue
            rows.append(f"| {t} | {label} | {support} | "
                        + " | ".join(f"{x:.3f}" for x in prf(*o) + prf(*s)) + " |")
    for langs, label in ((("zh",), "zh"), (("en",), "en"), (("zh", "en"), "all")):
        o = agg(ours["counts"], TYPES, langs)
        s = agg(stock["counts"], TYPES, langs)
        rows.append(f"| **overall** | {label} | {o[0] + o[2]} | "
                    + " | ".join(f"{x:.3f}" for x in prf(*o) + prf(*s)) + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--corpus", choices=("main", "heldout", "unseen"), default="main",
                    help="main: scripts/pii_corpus.py; heldout: scripts/pii_corpus_heldout.py; "
                         "unseen: scripts/pii_corpus_unseen.py (never tuned on)")
    ap.add_argument("--worker", nargs=3, metavar=("KIND", "IN", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--errors", type=int, default=0, help="print this many of our misses")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per engine, alternating; the fastest of each is reported")
    args = ap.parse_args(argv)
    if args.worker:
        kind, inp, out = args.worker
        stats = (worker_ours if kind == "ours" else worker_stock)(inp, out)
        print(json.dumps(stats))
        return 0

    if args.corpus == "main":
        from scripts.pii_corpus import generate
    elif args.corpus == "heldout":
        from scripts.pii_corpus_heldout import generate_heldout as generate
    else:
        from scripts.pii_corpus_unseen import generate_unseen as generate

    corpus = [s.__dict__ for s in generate(args.count, args.seed)]
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "corpus.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for doc in corpus:
                f.write(json.dumps({"id": doc["id"], "text": doc["text"]},
                                   ensure_ascii=False) + "\n")
        size_mb = os.path.getsize(inp) / 1e6
        chars_mb = sum(len(d["text"].encode("utf-8")) for d in corpus) / 1e6
        ours_out, stock_out = os.path.join(tmp, "ours.jsonl"), os.path.join(tmp, "stock.jsonl")
        # On a shared machine one run can be slowed by a neighbour: run the engines in turn
        # ``--repeat`` times and keep each one's fastest run (and its CPU time, which a
        # neighbour affects far less than wall time).
        runs: dict[str, list[dict]] = {"ours": [], "stock": []}
        for _ in range(args.repeat):
            runs["ours"].append(run_worker("ours", inp, ours_out))
            runs["stock"].append(run_worker("stock", inp, stock_out))
        ours_stats = min(runs["ours"], key=lambda r: r["scan_s"])
        stock_stats = min(runs["stock"], key=lambda r: r["scan_s"])
        ours_stats["cpu_s"] = min(r["cpu_s"] for r in runs["ours"])
        stock_stats["cpu_s"] = min(r["cpu_s"] for r in runs["stock"])
        ours = score(corpus, ours_out, None)
        stock = score(corpus, stock_out, STOCK_MAP)
        if args.errors:
            _print_errors(corpus, ours_out, args.errors)

    n = len(corpus)
    print(f"corpus: {n} texts ({sum(d['language'] == 'zh' for d in corpus)} zh, "
          f"{sum(d['language'] == 'en' for d in corpus)} en), "
          f"{sum(len(d['entities']) for d in corpus)} labelled entities, "
          f"{chars_mb:.2f} MB of text ({size_mb:.2f} MB JSONL); {args.corpus} corpus, seed {args.seed}")
    print()
    print("\n".join(table(ours, stock)))
    print()
    print(f"stock detections of types outside the scheme (URL, UK_NHS, ...): {stock['other']}")
    print()
    print(f"best of {args.repeat} run(s) per engine")
    print("| engine | build s | scan s | texts/s | MB/s | scan CPU s | texts/CPU-s | peak RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, st in (("ours (`cdp pii scan`)", ours_stats), ("stock Presidio", stock_stats)):
        print(f"| {name} | {st['build_s']:.2f} | {st['scan_s']:.2f} | {n / st['scan_s']:.0f} | "
              f"{chars_mb / st['scan_s']:.3f} | {st['cpu_s']:.2f} | {n / st['cpu_s']:.0f} | "
              f"{st['rss_mb']:.0f} |")
    print()
    print(f"throughput ratio ours/stock: {stock_stats['scan_s'] / ours_stats['scan_s']:.2f}x "
          f"(wall), {stock_stats['cpu_s'] / ours_stats['cpu_s']:.2f}x (CPU)")
    from scripts.bench.procstat import print_machine

    print_machine()
    return 0


def _print_errors(corpus: list[dict], output: str, limit: int) -> None:
    preds = {}
    with open(output, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            preds[rec["id"]] = rec.get("entities", [])
    shown = 0
    for doc in corpus:
        pred = preds.get(doc["id"], [])
        g_ok, p_ok = _match(doc["entities"], pred)
        misses = [(g["type"], doc["text"][g["start"]:g["end"]])
                  for g, ok in zip(doc["entities"], g_ok, strict=True) if not ok]
        fps = [(p["type"], doc["text"][p["start"]:p["end"]])
               for p, ok in zip(pred, p_ok, strict=True) if not ok]
        if misses or fps:
            print(f"{doc['id']} {doc['text']}\n   FN {misses}\n   FP {fps}", file=sys.stderr)
            shown += 1
            if shown >= limit:
                return


if __name__ == "__main__":
    raise SystemExit(main())
