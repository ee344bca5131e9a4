"""Keep third-party libraries off the network.

tldextract, used by Presidio's e-mail recognizer and by ours, fetches the public suffix
list from the internet on first use unless told otherwise. We point the module-level
extractor (the one ``tldextract.extract`` uses) at the snapshot bundled in the package,
with no URLs and no disk cache, so a start-up never touches the network or the disk.
"""

from __future__ import annotations

import logging
import threading

import tldextract
import tldextract.tldextract as _tld

_lock = threading.Lock()
_extractor: tldextract.TLDExtract | None = None


def offline_tld_extractor() -> tldextract.TLDExtract:
    """The process-wide offline extractor; also installed as tldextract's default."""
    global _extractor
    with _lock:
        if _extractor is None:
            _extractor = tldextract.TLDExtract(
                suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True
            )
            _tld.TLD_EXTRACTOR = _extractor
        return _extractor


def quiet_jieba() -> None:
    """jieba logs its dictionary loading at DEBUG/INFO on the root of its own logger."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
