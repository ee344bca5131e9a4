"""Score the PII engine's person names on the real-text sets that ``build_sets.py`` writes.

A labelled name counts as found when a reported PERSON span overlaps it (recall); a reported
PERSON span counts as right when it overlaps a labelled name (precision). The engine is the
one ``cdp pii scan`` runs (:func:`cdp.pii.scan.scan_text`); ``--min-score`` applies a policy's
threshold to the reported scores. Held-apart ``test`` splits are printed first.

    python scripts/pii_eval/evaluate.py --data /tmp/pii_eval
    python scripts/pii_eval/evaluate.py --data /tmp/pii_eval --split dev --errors 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def score(records: list[dict], found: list[list[tuple[int, int, float]]],
          min_score: float) -> dict:
    """Precision, recall and F1 of person names by overlap, at a score threshold."""
    tp_pred = n_pred = tp_gold = n_gold = 0
    for rec, spans in zip(records, found, strict=True):  # one span list per record
        spans = [(s, e) for s, e, sc in spans if sc >= min_score]
        gold = rec["names"]
        n_gold += len(gold)
        n_pred += len(spans)
        tp_gold += sum(any(s < ge and gs < e for s, e in spans) for gs, ge in gold)
        tp_pred += sum(any(s < ge and gs < e for gs, ge in gold) for s, e in spans)
    p = tp_pred / n_pred if n_pred else 1.0
    r = tp_gold / n_gold if n_gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"texts": len(records), "names": n_gold, "precision": p, "recall": r, "f1": f}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/tmp/pii_eval")
    ap.add_argument("--split", choices=("test", "dev", "both"), default="both")
    ap.add_argument("--sets", default="zh_news,en_social")
    ap.add_argument("--min-score", type=float, action="append",
                    help="thresholds to report (default: 0.5 and the policies' own)")
    ap.add_argument("--errors", type=int, default=0, help="print N misses and N false alarms")
    args = ap.parse_args(argv)

    from cdp.pii.scan import candidates, select

    thresholds = args.min_score or [0.4, 0.5, 0.6]
    splits = ["test", "dev"] if args.split == "both" else [args.split]
    print("| set | split | texts | names | min score | precision | recall | F1 | texts/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for split in splits:
        for name in args.sets.split(","):
            path = Path(args.data) / f"{name}.{split}.jsonl"
            with open(path, encoding="utf-8") as f:
                records = [json.loads(line) for line in f]
            t0 = time.perf_counter()
            cands = [candidates(r["text"], r["language"]) for r in records]
            rate = len(records) / (time.perf_counter() - t0)
            for th in thresholds:
                # what scan_text(text, min_score=th) returns: the threshold, then overlaps
                found = [[(e.start, e.end, e.score) for e in select(c, th) if e.type == "PERSON"]
                         for c in cands]
                m = score(records, found, th)
                print(f"| {name} | {split} | {m['texts']} | {m['names']} | {th:.2f} | "
                      f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {rate:.0f} |")
            if args.errors and split == "dev":
                found = [[(e.start, e.end, e.score) for e in select(c, min(thresholds))
                          if e.type == "PERSON"] for c in cands]
                _show_errors(records, found, min(thresholds), args.errors)
    return 0


def _show_errors(records, found, th, n) -> None:
    misses, alarms = [], []
    for rec, spans in zip(records, found, strict=True):  # one span list per record
        t = rec["text"]
        spans = [(s, e) for s, e, sc in spans if sc >= th]
        for gs, ge in rec["names"]:
            if not any(s < ge and gs < e for s, e in spans):
                misses.append(f"{t[gs:ge]} | {t[max(0, gs - 15):ge + 15]}")
        for s, e in spans:
            if not any(s < ge and gs < e for gs, ge in rec["names"]):
                alarms.append(f"{t[s:e]} | {t[max(0, s - 15):e + 15]}")
    print("MISSES", len(misses), *misses[:n], sep="\n  ", file=sys.stderr)
    print("FALSE", len(alarms), *alarms[:n], sep="\n  ", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
