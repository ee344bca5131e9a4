"""English drug names from the ``drug-named-entity-recognition`` package's dictionary.

That package (MIT) ships a curated dictionary of ~100,000 drug names and brand variants
(built from MeSH, DrugBank-derived and NHS sources, with common English words removed).
We read only its bundled file, never its code paths that call web services, and keep the
single-word names of five letters or more: the lexicon of an online pharmacy's English
notes, without hand lists to maintain. When the package is absent the set is empty and the
recognizer falls back to its own lexicon and INN stems.
"""

from __future__ import annotations

import bz2
import functools
import importlib.util
import pickle
import re
from pathlib import Path

_WORD = re.compile(r"[a-z][a-z\-]{4,}")


@functools.lru_cache(maxsize=1)
def drug_words() -> frozenset[str]:
    """Lower-case single-word drug names (generic and brand), or empty when unavailable."""
    spec = importlib.util.find_spec("drug_named_entity_recognition")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "drug_ner_dictionary.pkl.bz2"
    try:
        with bz2.open(path, "rb") as f:
            # a data file inside an installed, pinned package: as trusted as its code
            data = pickle.load(f)  # noqa: S301
        variants = data["drug_variant_to_canonical"]
    except (OSError, KeyError, pickle.UnpicklingError, EOFError):
        return frozenset()
    from cdp.pii.lexicon.names import EN_FIRST_NAMES

    first_names = {n.lower() for n in EN_FIRST_NAMES}
    words = frozenset(k for k in variants if _WORD.fullmatch(k) and k not in first_names)
    del data, variants
    return words
