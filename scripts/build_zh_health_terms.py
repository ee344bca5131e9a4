#!/usr/bin/env python
"""Build cdp/pii/lexicon/zh_health_terms.txt: Chinese disease and drug names from CMeKG.

    pip install -e '.[dev]'          # brings PyCMeKG (the Chinese Medical Knowledge Graph)
    python scripts/build_zh_health_terms.py            # rewrite the committed file
    python scripts/build_zh_health_terms.py --check    # exit 1 when the file is out of date

Source: CMeKG, the Chinese Medical Knowledge Graph of Peking University's Institute of
Computational Linguistics, as shipped inside the ``PyCMeKG`` package (MIT, as its metadata
states; the graph's own terms are not stated in the package). Only names are taken: the
list is a vocabulary of diseases and medicines, not the graph's relations.

Each line is ``kind<TAB>name``:
- ``disease``: a subject the graph describes with symptoms or a clinic (常见症状, 就诊科室),
  and its other names (别称): 脂溢性皮炎, 干眼症, 幽门螺杆菌感染;
- ``drug``: a medicine's full name with its dosage form, the graph's subjects and generic
  names (通用名): 阿达帕林凝胶, 盐酸二甲双胍肠溶胶囊;
- ``stem``: the generic name without its dosage form and salt, as people write it (阿达帕林,
  二甲双胍), three characters or more;
- ``symptom``: a symptom of two to four characters (高烧, 头晕, 乏力). Not a health term by
  itself, as many are everyday words too; the name recognizer uses the list to leave such
  a span alone.

Trade names (泰道, 君力达, 佐乐辛) are left out: two or three characters, often a surname
first, they read like given names, and a person called 吴维 must stay a person. So are
stems of three characters that start with a common surname, and stems jieba's dictionary
knows unless they end like a drug's name (``DRUG_ENDINGS``: 葡萄糖, 猕猴桃 and 木糖醇 go,
链霉素 and 卡马西平 stay). Two-character disease
names are kept (感冒, 便秘, 湿疹) but for the few listed in ``NOT_HEALTH`` that everyday text
uses otherwise; the recognizer matches them only as whole jieba words (天花 is smallpox,
天花板 a ceiling). Herbs and foods (莲子, 栀子) are not health data by themselves and are
not read.
"""

from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import generated_list  # noqa: E402 - after the path: run as a file

OUT = generated_list.ROOT / "cdp" / "pii" / "lexicon" / "zh_health_terms.txt"
_CJK_NAME = re.compile(r"[\u4e00-\u9fff][\u4e00-\u9fff0-9]*[\u4e00-\u9fff]")
# Salts and routes before a generic name: 盐酸二甲双胍 -> 二甲双胍, 注射用头孢曲松钠 -> 头孢曲松钠
_LEADING = ("注射用", "复方", "盐酸", "硫酸", "硝酸", "磷酸", "枸橼酸", "马来酸", "富马酸",
            "甲磺酸", "苯磺酸", "酒石酸", "醋酸", "琥珀酸", "乳酸", "氢溴酸")
# Dosage forms, longest first (more than the recognizer's: the graph names many).
_FORMS = tuple(sorted("""
片 胶囊 颗粒 丸 散 膏 栓 贴 酊 糖浆 合剂 口服液 口服溶液 注射液 滴眼液 滴耳液 滴鼻液 喷雾剂 气雾剂
吸入剂 粉吸入剂 乳膏 软膏 凝胶 混悬液 混悬剂 溶液 乳剂 洗剂 搽剂 贴剂 贴膏 膏药 缓释片 控释片 肠溶片
分散片 泡腾片 咀嚼片 口崩片 含片 舌下片 缓释胶囊 肠溶胶囊 软胶囊 滴丸 水丸 蜜丸 浓缩丸 冲剂
干混悬剂 酏剂 茶 粉 粉针 注射剂 输液 眼膏 鼻喷雾剂 栓剂 阴道片 阴道栓 颗粒剂 片剂 胶丸
""".split(), key=len, reverse=True))
COMMON_WORD_FREQ = 2000
# A generic name jieba's dictionary knows (frequency 5 or more) is as often a chemical, a
# food or a plant (葡萄糖, 猕猴桃, 木糖醇): kept only with an ending of a drug's name
# (链霉素, 阿司匹林, 卡马西平, 氟康唑).
RARE_STEM_FREQ = 5
DRUG_ENDINGS = ("霉素", "环素", "菌素", "西林", "沙星", "他汀", "沙坦", "地平", "普利", "洛尔",
                "唑", "韦", "尼", "单抗", "松", "泮", "仑", "丁", "林", "平", "定", "因", "碱",
                "酚", "嗪", "妥", "肼", "芬", "酮", "非")
# Two-character "diseases" of the graph that everyday text mostly uses otherwise (starch,
# to forget, a guilty conscience, a stutter and jieba's own name, an acupoint).
NOT_HEALTH = frozenset("淀粉 遗忘 心虚 牙缝 眼袋 结巴 鼻音 洁癖 触电 醉酒 脾俞 病儿 白线 胃片 胃散 "
                       "气片 血片 结肠 心痛 阴虚 虚火 脾火 气滞 滞气".split())
MIN_NAME = 2
SYMPTOM_KEYS = ("常见症状", "相关症状", "临床症状及体征")
MAX_SYMPTOM = 4   # a longer phrase is never taken for a name


def _pickle_path() -> Path:
    return generated_list.package_dir("pyCMeKG", "PyCMeKG") / "model" / "cmekg.pkl"


def _stem(name: str) -> str | None:
    form = next((f for f in _FORMS if name.endswith(f)), None)
    if form is None:
        return None
    stem = name[: -len(form)]
    changed = True
    while changed:
        changed = False
        for lead in _LEADING:
            if stem.startswith(lead) and len(stem) > len(lead) + 1:
                stem, changed = stem[len(lead):], True
    return stem


def build() -> str:
    import jieba

    from cdp.pii.lexicon.names import ZH_SURNAMES
    from cdp.pii.lexicon.tcm import ZH_MATERIA_MEDICA

    jieba.setLogLevel(60)
    jieba.initialize()
    freq = jieba.dt.FREQ

    def usable(name: str) -> bool:
        return (len(name) >= MIN_NAME and _CJK_NAME.fullmatch(name) is not None
                and name not in ZH_MATERIA_MEDICA)

    path = _pickle_path()
    with open(path, "rb") as f:
        # a data file inside an installed, pinned package: as trusted as its code
        graph = pickle.load(f)  # noqa: S301
    out: dict[str, str] = {}
    for subject, facts in graph.items():
        if "常见症状" in facts or "就诊科室" in facts:
            for name in [subject, *facts.get("别称", [])]:
                if usable(name) and name not in NOT_HEALTH:
                    out.setdefault(name, "disease")
        elif "成份" in facts or "OTC类型" in facts or "适应症" in facts:
            for name in [subject, *facts.get("通用名", [])]:
                stem = _stem(name) if usable(name) else None
                if stem is None:
                    continue  # a trade name, or no dosage form: not surely a medicine
                out.setdefault(name, "drug")
                known = freq.get(stem, 0) >= RARE_STEM_FREQ
                if (len(stem) >= 3 and usable(stem) and freq.get(stem, 0) < COMMON_WORD_FREQ
                        and not (known and not stem.endswith(DRUG_ENDINGS))
                        and not (len(stem) == 3 and stem[0] in ZH_SURNAMES)):
                    out.setdefault(stem, "stem")
    # Symptoms: not health terms by themselves (紧张, 无力, 不适 are everyday words too), but
    # never a person's name: the name recognizer leaves a span that is one alone (高烧).
    for facts in graph.values():
        for key in SYMPTOM_KEYS:
            for name in facts.get(key, []):
                if usable(name) and len(name) <= MAX_SYMPTOM and name not in out:
                    out[name] = "symptom"
    header = ("# Chinese disease and medicine names from CMeKG (the Chinese Medical Knowledge\n"
              "# Graph, shipped by the PyCMeKG package, MIT). Generated by\n"
              "# scripts/build_zh_health_terms.py; do not edit by hand. kind<TAB>name\n")
    return header + "".join(f"{kind}\t{name}\n" for name, kind in sorted(out.items()))


if __name__ == "__main__":
    generated_list.main(build, OUT, __file__, __doc__ or "")
