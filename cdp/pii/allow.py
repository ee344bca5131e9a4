"""Words that are never personal data in this deployment: the pharmacy's own brand, store, app
and chatbot names, which read as people's names to the engine (a brand such as 康宁优选 starts
with a surname and a given-name character, and the pharmacy's own notes name it all the time).

The list is ``pii_allow.txt`` in the policy directory (``CDP_POLICY_DIR``): one word a line,
``#`` starts a comment. A span the engine finds is dropped when its text is exactly one of
them (Presidio's ``allow_list``, exact match), whatever its type: list the short forms people
write too (康宁, 康宁优选, 康宁健康). The file is read once per process: restart the service and
the workers after an edit, and run ``cdp pii rescan`` for notes already stored.
"""

from __future__ import annotations

import functools
from pathlib import Path

from cdp.config import Config

ALLOW_FILE = "pii_allow.txt"
# A word longer than this is no brand name; a file of them is a mistake, not a list.
MAX_WORD_CHARS = 40


@functools.cache
def _read(path: str) -> tuple[str, ...]:
    file = Path(path)
    if not file.is_file():
        return ()
    words: list[str] = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        if len(word) > MAX_WORD_CHARS:
            raise ValueError(f"{file.name} line {number}: longer than {MAX_WORD_CHARS} characters")
        words.append(word)
    return tuple(dict.fromkeys(words))


# The policy directory of this process's service or ingest worker (set where they start);
# otherwise the configuration's, as it is at the process's first scan (a command line run).
_policy_dir: str | None = None


def use_policy_dir(policy_dir: str) -> None:
    """Take the list from ``policy_dir`` from now on in this process. Reads it now, so a bad
    file stops the service or the worker at its start (ValueError naming the line), not the
    first request that scans."""
    global _policy_dir
    _read(str(Path(policy_dir) / ALLOW_FILE))
    _policy_dir = policy_dir


@functools.cache
def _configured_policy_dir() -> str:
    # Once per process: every scan asks, and resolving the configuration is most of the cost
    # of asking.
    return Config.from_env().policy_dir


def allowed_words(policy_dir: str | None = None) -> list[str]:
    """The deployment's allowed words (empty when the file is absent)."""
    directory = policy_dir or _policy_dir or _configured_policy_dir()
    return list(_read(str(Path(directory) / ALLOW_FILE)))
