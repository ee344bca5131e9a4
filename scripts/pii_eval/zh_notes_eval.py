"""Score the PII engine on the hand-labelled Chinese customer-service notes (``zh_notes/``).

The set was written and labelled by hand for this project before any recognizer ran over it
(``zh_notes/GUIDELINES.md``); it is held apart from tuning: read its errors to understand the
engine, never to change a rule, a word list, a model or a threshold.

The engine is the one ``cdp pii scan`` runs (:func:`cdp.pii.scan.candidates`, then
:func:`cdp.pii.scan.select` at a threshold). Thresholds: the policies' own (``storage`` and
the view policies in ``policies/pii/``, per type when a file sets one) and the engine default
``SCORE_THRESHOLD`` that ``cdp pii scan`` applies.

Two scores per type:

* overlap (the rule of ``evaluate.py`` for the news set): a labelled span counts as found when
  a reported span of the same type overlaps it; a reported span counts as right when it
  overlaps a labelled span of that type;
* strict: start and end must both be equal;
* strict, title aside: as strict, but a reported PERSON span that is the labelled name plus a
  title or kinship word right after it (王先生 for the labelled 王: the guidelines keep titles
  outside the span) counts as exact. The words are the guidelines' own (``TITLES``).

Stock Presidio (its predefined recognizers, no NLP model, as in ``scripts/bench/pii_bench.py``)
runs on the same notes as a reference, with ``--stock``.

    python scripts/pii_eval/zh_notes_eval.py
    python scripts/pii_eval/zh_notes_eval.py --errors 40 --stock
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

NOTES = Path(__file__).resolve().parent / "zh_notes" / "notes.jsonl"
SCORED = ("PERSON", "LOCATION")
INFO = ("PHONE_NUMBER", "EMAIL_ADDRESS", "CN_RESIDENT_ID", "BANK_CARD")
STOCK_MAP = {
    "CREDIT_CARD": "BANK_CARD",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
}

# Titles, honorifics and kinship words that follow a name (GUIDELINES.md, PERSON), longest first.
TITLES = sorted(
    "先生 女士 小姐 太太 同学 老师 医生 药师 师傅 经理 主任 主管 科长 店长 总 阿姨 大爷 大妈 "
    "爷爷 婆婆 伯伯 叔 姐 哥 小哥 老头 阿訇".split(),
    key=len,
    reverse=True,
)

Span = tuple[int, int]


def load_notes(path: Path = NOTES) -> list[dict]:
    """The notes, one dict per JSONL line."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def gold_spans(note: dict, etype: str) -> list[Span]:
    return [(e["start"], e["end"]) for e in note["entities"] if e["type"] == etype]


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _title_aside(text: str, gold: Span, pred: Span) -> bool:
    """``pred`` is ``gold`` exactly, or ``gold`` followed by one title word."""
    if pred == gold:
        return True
    return pred[0] == gold[0] and text[gold[1] : pred[1]] in TITLES


def score(items: Iterable[tuple[str, list[Span], list[Span]]], titles: bool = True) -> dict[str, float]:
    """Precision, recall and F1 by overlap, strict and strict-title-aside, over
    (text, gold spans, predicted spans) triples."""
    n_gold = n_pred = tp_gold = tp_pred = exact = titled = 0
    for text, gold, pred in items:
        n_gold += len(gold)
        n_pred += len(pred)
        tp_gold += sum(any(_overlaps(g, p) for p in pred) for g in gold)
        tp_pred += sum(any(_overlaps(p, g) for g in gold) for p in pred)
        exact += len(set(gold) & set(pred))
        if titles:
            titled += sum(any(_title_aside(text, g, p) for p in pred) for g in gold)
        else:
            titled += len(set(gold) & set(pred))

    def prf(tp_p: int, tp_g: int) -> tuple[float, float, float]:
        p = tp_p / n_pred if n_pred else 1.0
        r = tp_g / n_gold if n_gold else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    p, r, f = prf(tp_pred, tp_gold)
    sp, sr, sf = prf(exact, exact)
    tp, tr, tf = prf(titled, titled)
    return {
        "gold": n_gold,
        "pred": n_pred,
        "p": p,
        "r": r,
        "f1": f,
        "sp": sp,
        "sr": sr,
        "sf1": sf,
        "tp": tp,
        "tr": tr,
        "tf1": tf,
    }


def thresholds() -> list[tuple[str, Callable[[str], float]]]:
    """(label, per-type threshold) for the engine default and each distinct policy threshold."""
    from cdp.pii.analyzer import SCORE_THRESHOLD
    from cdp.pii.policy import load_policy

    out: list[tuple[str, Callable[[str], float]]] = []
    seen: dict[tuple[float, ...], tuple[list[str], Callable[[str], float]]] = {}
    for path in sorted((REPO / "policies" / "pii").glob("*.toml")):
        pol = load_policy(path.stem)
        # every type the engine reports, health terms included, so overlaps resolve as in use
        key = tuple(pol.threshold_for(t) for t in SCORED + INFO + ("HEALTH_TERM",))
        seen.setdefault(key, ([], pol.threshold_for))[0].append(path.stem)
    for key, (names, threshold_for) in seen.items():
        short = "storage+views" if "storage" in names and len(names) > 1 else "/".join(names)
        print(f"threshold {_fmt(key)}: policies {', '.join(names)}")
        out.append((f"{short} {_fmt(key)}", threshold_for))
    default = float(SCORE_THRESHOLD)
    out.append((f"cdp pii scan {default:g}", lambda _t: default))
    return out


def _fmt(key: tuple[float, ...]) -> str:
    if len(set(key)) == 1:
        return f"{key[0]:g}"
    types = SCORED + INFO + ("HEALTH_TERM",)
    return ", ".join(f"{t} {v:g}" for t, v in zip(types, key, strict=True))


def ours(notes: list[dict]) -> tuple[list[list], float]:
    """Every candidate of the engine per note (down to its floor), and notes per second."""
    from cdp.pii.scan import candidates

    candidates(notes[0]["text"])  # build the analyzer outside the timing
    t0 = time.perf_counter()
    # No language given: `cdp pii scan` detects it when an input line has none.
    cands = [candidates(n["text"]) for n in notes]
    return cands, len(notes) / (time.perf_counter() - t0)


def stock(notes_path: Path) -> list[dict[str, list[Span]]]:
    """Stock Presidio's spans per note, mapped to our types. It runs in a child process, as in
    pii_bench.py: our engine registers its own recognizers, which stock Presidio must not see."""
    proc = subprocess.run(
        [sys.executable, __file__, "--notes", str(notes_path), "--stock-worker"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    rows = json.loads(proc.stdout)
    return [{t: [tuple(s) for s in spans] for t, spans in row.items()} for row in rows]


def stock_worker(notes: list[dict]) -> list[dict[str, list[Span]]]:
    """Stock Presidio (predefined recognizers, no NLP model) over the notes, in this process."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from cdp.pii.offline import offline_tld_extractor

    offline_tld_extractor()
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    out = []
    for n in notes:
        spans: dict[str, list[Span]] = {}
        for r in analyzer.analyze(text=n["text"], language="en"):
            if r.entity_type in STOCK_MAP:
                spans.setdefault(STOCK_MAP[r.entity_type], []).append((r.start, r.end))
        out.append(spans)
    return out


def table(
    notes: list[dict], predicted: list[dict[str, list[Span]]], label: str, per_style: bool = True
) -> list[str]:
    """Markdown rows: per scored type, all notes then each style; info types overall."""
    styles = sorted({n["style"] for n in notes}) if per_style else []
    rows = []
    for etype in SCORED + INFO:
        groups = (
            [("all", notes, predicted)]
            if etype in INFO
            else [("all", notes, predicted)]
            + [
                (
                    s,
                    [n for n in notes if n["style"] == s],
                    [p for n, p in zip(notes, predicted, strict=True) if n["style"] == s],
                )
                for s in styles
            ]
        )
        for style, ns, ps in groups:
            m = score(
                (n["text"], gold_spans(n, etype), p.get(etype, [])) for n, p in zip(ns, ps, strict=True)
            )
            if etype in INFO and not m["gold"]:
                continue
            rows.append(
                f"| {label} | {etype} | {style} | {len(ns)} | {m['gold']:.0f} | {m['pred']:.0f} | "
                f"{m['p']:.3f} | {m['r']:.3f} | {m['f1']:.3f} | "
                f"{m['sp']:.3f} | {m['sr']:.3f} | {m['sf1']:.3f} | "
                f"{m['tp']:.3f} | {m['tr']:.3f} | {m['tf1']:.3f} |"
            )
    return rows


def errors(notes: list[dict], predicted: list[dict[str, list[Span]]], etype: str, n: int) -> None:
    """Misses and false alarms (overlap rule) of one type, to stderr."""
    misses, alarms, bounds = [], [], []
    for note, pred in zip(notes, predicted, strict=True):
        t, gold, spans = note["text"], gold_spans(note, etype), pred.get(etype, [])
        for g in gold:
            hit = [p for p in spans if _overlaps(g, p)]
            if not hit:
                misses.append(f"{note['id']}: {t[g[0] : g[1]]} | {t[max(0, g[0] - 12) : g[1] + 12]}")
            elif not any(_title_aside(t, g, p) if etype == "PERSON" else p == g for p in hit):
                bounds.append(f"{note['id']}: {t[g[0] : g[1]]} -> " + ", ".join(t[s:e] for s, e in hit))
        for p in spans:
            if not any(_overlaps(p, g) for g in gold):
                alarms.append(f"{note['id']}: {t[p[0] : p[1]]} | {t[max(0, p[0] - 12) : p[1] + 12]}")
    for title, items in (("MISSES", misses), ("FALSE ALARMS", alarms), ("BOUNDARY ONLY", bounds)):
        print(f"{etype} {title} {len(items)}", *items[:n], sep="\n  ", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--notes", type=Path, default=NOTES)
    ap.add_argument("--errors", type=int, default=0, help="print N misses, false alarms, boundaries")
    ap.add_argument("--stock", action="store_true", help="also run stock Presidio as a reference")
    ap.add_argument("--stock-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    notes = load_notes(args.notes)
    if args.stock_worker:
        print(json.dumps(stock_worker(notes)))
        return 0

    from cdp.pii.scan import select

    cands, rate = ours(notes)
    print(f"{len(notes)} notes; engine {rate:.0f} notes/s (one thread, analyzer warm)\n")
    header = (
        "| engine, threshold | type | style | notes | labelled | reported | P | R | F1 "
        "| strict P | strict R | strict F1 | title-aside P | title-aside R | title-aside F1 |"
    )
    levels = thresholds()
    print(f"\n{header}")
    print("|" + " --- |" * 15)
    runs = []
    notes_alarm: list[str] = []
    for label, th in levels:
        predicted = [
            {t: [(e.start, e.end) for e in select(c, th) if e.type == t] for t in SCORED + INFO}
            for c in cands
        ]
        runs.append((label, predicted))
        print("\n".join(table(notes, predicted, f"ours, {label}")))
        free = [p for n, p in zip(notes, predicted, strict=True) if not gold_spans(n, "PERSON")]
        alarmed = sum(bool(p["PERSON"]) for p in free)
        notes_alarm.append(f"{label}: {alarmed} of {len(free)} notes without a name get a PERSON")
    if args.stock:
        print("\n".join(table(notes, stock(args.notes), "stock Presidio", per_style=False)))
    print("", *notes_alarm, sep="\n")
    if args.errors:
        for label, predicted in runs:
            print(f"\nerrors at {label}", file=sys.stderr)
            for etype in SCORED + INFO:
                errors(notes, predicted, etype, args.errors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
