"""Health vocabulary: diagnoses and drug names (zh and en), plus word-formation suffixes.

The lists name common chronic conditions and the drugs an online pharmacy dispenses most;
the suffix rules in the recognizer catch drug and disease names that are not listed.
"""

from __future__ import annotations

ZH_DIAGNOSES = frozenset("""
高血压 低血压 糖尿病 1型糖尿病 2型糖尿病 妊娠糖尿病 冠心病 心绞痛 心肌梗死 心衰 心力衰竭 心律失常 房颤
脑卒中 中风 脑梗 脑梗死 哮喘 支气管哮喘 慢阻肺 慢性阻塞性肺疾病 肺结核 结核 肺癌 肝癌 胃癌 乳腺癌
抑郁症 焦虑症 双相情感障碍 精神分裂症 失眠 失眠症 阿尔茨海默病 帕金森病 癫痫 偏头痛 乙肝 丙肝
艾滋病 HIV 梅毒 淋病 尖锐湿疣 痛风 高尿酸血症 甲亢 甲状腺功能亢进 甲减 甲状腺功能减退 甲状腺结节
胃溃疡 十二指肠溃疡 胃炎 慢性胃炎 反流性食管炎 肠易激综合征 类风湿关节炎 关节炎 骨质疏松 骨关节炎
银屑病 湿疹 荨麻疹 痤疮 白癜风 过敏性鼻炎 鼻炎 高脂血症 高血脂 血脂异常 脂肪肝 肾结石 胆结石
慢性肾病 肾衰竭 尿毒症 尿路感染 前列腺增生 不孕不育 阳痿 勃起功能障碍 早泄 多囊卵巢综合征
贫血 白血病 淋巴瘤 肿瘤 癌症 支气管炎 肺炎 咽炎 扁桃体炎 结膜炎 青光眼 白内障 带状疱疹 疱疹
""".split())

ZH_DRUG_STEMS = frozenset("""
二甲双胍 格列美脲 格列齐特 阿卡波糖 西格列汀 达格列净 恩格列净 利拉鲁肽 司美格鲁肽 胰岛素 门冬胰岛素
甘精胰岛素 氨氯地平 苯磺酸氨氯地平 硝苯地平 缬沙坦 厄贝沙坦 氯沙坦钾 替米沙坦 坎地沙坦 培哚普利
贝那普利 依那普利 美托洛尔 比索洛尔 氢氯噻嗪 吲达帕胺 阿托伐他汀钙 阿托伐他汀 瑞舒伐他汀钙 瑞舒伐他汀
辛伐他汀 普伐他汀 依折麦布 阿司匹林 氯吡格雷 替格瑞洛 华法林 利伐沙班 达比加群 布洛芬 对乙酰氨基酚
塞来昔布 双氯芬酸钠 奥美拉唑 雷贝拉唑 泮托拉唑 艾司奥美拉唑 铝碳酸镁 蒙脱石 阿莫西林 头孢克肟
头孢呋辛 左氧氟沙星 莫西沙星 阿奇霉素 克拉霉素 甲硝唑 氯雷他定 西替利嗪 孟鲁司特钠 孟鲁司特
沙美特罗替卡松 布地奈德 沙丁胺醇 噻托溴铵 左甲状腺素钠 甲巯咪唑 丙硫氧嘧啶 舍曲林 盐酸舍曲林
帕罗西汀 氟西汀 艾司西酞普兰 文拉法辛 度洛西汀 米氮平 阿普唑仑 艾司唑仑 佐匹克隆 右佐匹克隆 唑吡坦
喹硫平 奥氮平 利培酮 阿立哌唑 丙戊酸钠 拉莫三嗪 左乙拉西坦 多奈哌齐 美金刚 恩替卡韦 替诺福韦
丙酚替诺福韦 索磷布韦 别嘌醇 非布司他 秋水仙碱 甲钴胺 阿仑膦酸钠 碳酸钙D3 骨化三醇 坦索罗辛
非那雄胺 西地那非 他达拉非 来曲唑 他莫昔芬 甲氨蝶呤 泼尼松 地塞米松 连花清瘟 复方丹参 藿香正气
""".split())

# Dosage forms that end a Chinese drug name (longest first).
ZH_DOSAGE_FORMS = (
    "粉吸入剂", "吸入气雾剂", "肠溶胶囊", "缓释胶囊", "缓释片", "控释片", "肠溶片", "分散片", "泡腾片",
    "咀嚼片", "口崩片", "注射液", "口服液", "滴眼液", "吸入剂", "喷雾剂", "气雾剂", "混悬液", "胶囊",
    "颗粒", "软膏", "乳膏", "凝胶", "糖浆", "贴剂", "栓", "散", "丸", "片",
)
# Suffixes that end a disease name.
ZH_DISEASE_SUFFIXES = ("综合征", "炎", "症", "病", "癌", "瘤", "疹", "疮", "肿")
# Words ending in those suffixes that are not diagnoses.
ZH_NOT_DISEASE = frozenset(
    "毛病 疾病 生病 看病 病症 发炎 消炎 病人 病情 症状 病史 病历 传染病 慢性病 职业病 常见病 "
    "多发病 门诊 急症 重症 轻症 后遗症 并发症 适应症 禁忌症 炎症 病因 治病 犯病 肿 消肿 红肿 "
    "浮肿 水肿 疮 症 病 炎 感染 综合征 重病 大病 小病 有病 没病".split()
)
# Products sold at a pharmacy that reveal nothing about health.
ZH_NOT_DRUG_PREFIXES = ("维生素", "复合维生素", "钙片", "口罩", "润喉糖", "薄荷")

EN_DIAGNOSES = frozenset("""
hypertension|high blood pressure|diabetes|type 1 diabetes|type 2 diabetes|gestational diabetes|
asthma|copd|chronic obstructive pulmonary disease|depression|major depressive disorder|
anxiety|anxiety disorder|bipolar disorder|schizophrenia|insomnia|dementia|alzheimer's disease|
alzheimer's|parkinson's disease|parkinson's|epilepsy|migraine|hepatitis|hepatitis b|hepatitis c|
hiv|aids|syphilis|gonorrhea|chlamydia|herpes|gout|hyperthyroidism|hypothyroidism|
rheumatoid arthritis|osteoarthritis|arthritis|osteoporosis|psoriasis|eczema|acne|
high cholesterol|hyperlipidemia|heart failure|coronary artery disease|atrial fibrillation|
angina|stroke|cancer|breast cancer|lung cancer|leukemia|lymphoma|tuberculosis|pneumonia|
bronchitis|gastritis|acid reflux|gerd|irritable bowel syndrome|ibs|kidney disease|
chronic kidney disease|kidney stones|urinary tract infection|uti|erectile dysfunction|
infertility|pcos|anemia|obesity|adhd|autism|glaucoma|cataract|shingles
""".replace("\n", "").split("|"))

EN_DRUGS = frozenset("""
metformin|glimepiride|gliclazide|acarbose|sitagliptin|dapagliflozin|empagliflozin|liraglutide|
semaglutide|insulin|insulin glargine|insulin aspart|amlodipine|nifedipine|valsartan|losartan|
irbesartan|telmisartan|lisinopril|enalapril|perindopril|metoprolol|bisoprolol|atenolol|
hydrochlorothiazide|furosemide|atorvastatin|rosuvastatin|simvastatin|pravastatin|ezetimibe|
aspirin|clopidogrel|ticagrelor|warfarin|rivaroxaban|apixaban|ibuprofen|paracetamol|
acetaminophen|naproxen|celecoxib|diclofenac|omeprazole|esomeprazole|pantoprazole|
lansoprazole|ranitidine|famotidine|amoxicillin|azithromycin|clarithromycin|cefixime|
ciprofloxacin|levofloxacin|doxycycline|metronidazole|loratadine|cetirizine|fexofenadine|
montelukast|salbutamol|albuterol|budesonide|fluticasone|tiotropium|levothyroxine|
methimazole|sertraline|fluoxetine|paroxetine|citalopram|escitalopram|venlafaxine|
duloxetine|mirtazapine|bupropion|alprazolam|lorazepam|diazepam|zolpidem|quetiapine|
olanzapine|risperidone|aripiprazole|lithium|valproate|lamotrigine|levetiracetam|donepezil|
memantine|entecavir|tenofovir|sofosbuvir|allopurinol|febuxostat|colchicine|alendronate|
tamsulosin|finasteride|sildenafil|tadalafil|letrozole|tamoxifen|methotrexate|prednisone|
dexamethasone|hydroxychloroquine|oseltamivir
""".replace("\n", "").split("|"))

# INN stems: an unknown word with one of these endings is almost surely a drug.
EN_DRUG_SUFFIXES = (
    "pril", "sartan", "olol", "statin", "dipine", "prazole", "cillin", "mycin", "floxacin",
    "cycline", "tidine", "triptan", "gliptin", "gliflozin", "glutide", "oxetine", "azepam",
    "azolam", "lukast", "tadine", "thiazide", "semide", "formin", "profen", "navir", "tegravir",
    "ciclovir", "parin", "xaban", "gatran", "mab", "tinib", "zosin", "dronate", "setron",
    "pentin", "gabalin", "adol", "izine", "lactone",
)
