"""Chinese materia medica and supplement names that read like a person's name.

Many herbs start with a surname character (何首乌, 金银花, 杜仲, 陈皮, 田七, 朱砂, 白术, 黄芪),
so a name model or a surname rule takes them for people in pharmacy notes. A name
recognizer's span that is one of these, or starts one, is not a person. The list is the
common names of herbs, minerals and animal drugs sold in Chinese pharmacies (general
knowledge of the trade, as printed on pharmacy shelves), and common supplements.
"""

from __future__ import annotations

ZH_MATERIA_MEDICA = frozenset("""
人参 党参 西洋参 太子参 丹参 玄参 苦参 沙参 红参 高丽参 三七 田七 黄芪 当归 川芎 白芍 赤芍 熟地 熟地黄
生地 生地黄 何首乌 首乌 枸杞 枸杞子 杜仲 续断 牛膝 怀牛膝 狗脊 骨碎补 补骨脂 菟丝子 淫羊藿 巴戟天
肉苁蓉 锁阳 鹿茸 鹿角胶 阿胶 龟板 鳖甲 紫河车 冬虫夏草 虫草 灵芝 茯苓 茯神 猪苓 泽泻 薏苡仁 薏米
白术 苍术 山药 甘草 炙甘草 大枣 红枣 黄精 玉竹 麦冬 天冬 石斛 百合 沙棘 桑葚 桑椹 桑叶 桑枝
桑白皮 菊花 金银花 银花 连翘 板蓝根 大青叶 蒲公英 鱼腥草 穿心莲 黄连 黄芩 黄柏 栀子 龙胆 龙胆草
夏枯草 决明子 柴胡 葛根 升麻 薄荷 荆芥 防风 羌活 独活 白芷 细辛 麻黄 桂枝 肉桂 干姜 生姜 附子
吴茱萸 小茴香 丁香 花椒 陈皮 青皮 枳实 枳壳 木香 香附 乌药 沉香 檀香 川楝子 佛手 厚朴 砂仁
豆蔻 草果 藿香 佩兰 半夏 天南星 贝母 川贝 川贝母 浙贝 浙贝母 桔梗 杏仁 苦杏仁 紫苏 苏子 百部
款冬花 枇杷叶 马兜铃 白前 前胡 瓜蒌 竹茹 天竺黄 胖大海 罗汉果 昆布 海藻 牡蛎 龙骨
珍珠 朱砂 磁石 琥珀 酸枣仁 柏子仁 远志 合欢皮 夜交藤 首乌藤 天麻 钩藤 石决明 全蝎 蜈蚣 地龙
僵蚕 牛黄 麝香 冰片 苏合香 石菖蒲 安息香 红花 桃仁 益母草 泽兰 鸡血藤 王不留行 穿山甲 乳香
没药 五灵脂 蒲黄 郁金 姜黄 莪术 三棱 延胡索 元胡 川楝 大黄 芒硝 番泻叶 火麻仁 郁李仁 甘遂
大戟 芫花 巴豆 牵牛子 商陆 车前子 车前草 木通 通草 滑石 瞿麦 萹蓄 金钱草 海金沙 石韦 茵陈
虎杖 垂盆草 地耳草 鸡骨草 五味子 山茱萸 山萸肉 覆盆子 金樱子 桑螵蛸 海螵蛸 莲子 芡实 乌梅
诃子 肉豆蔻 赤石脂 白果 银杏叶 葶苈子 白芥子 莱菔子 山楂 神曲 麦芽 谷芽 鸡内金 使君子 苦楝皮
槟榔 雷丸 鹤虱 白及 仙鹤草 艾叶 侧柏叶 地榆 槐花 小蓟 大蓟 白茅根 藕节 茜草 紫草 牡丹皮 丹皮
地骨皮 青蒿 白薇 知母 天花粉 芦根 淡竹叶 竹叶 石膏 寒水石 玄明粉 蝉蜕 牛蒡子 蔓荆子 淡豆豉
浮萍 木贼 谷精草 密蒙花 青葙子 秦皮 白头翁 马齿苋 鸦胆子 败酱草 红藤 大血藤 射干 山豆根
马勃 青黛 紫花地丁 野菊花 重楼 拳参 漏芦 土茯苓 白鲜皮 蛇床子 地肤子 苦参 黄药子 海风藤
秦艽 防己 桑寄生 五加皮 威灵仙 徐长卿 木瓜 伸筋草 路路通 络石藤 雷公藤 老鹳草 豨莶草 臭梧桐
海桐皮 千年健 雪莲花 蕲蛇 乌梢蛇 金钱白花蛇 松节 藁本 苍耳子 辛夷 鹅不食草 西河柳 胡荽
葱白 生晒参 花旗参 燕窝 蜂胶 蜂蜜 蜂王浆 灵芝孢子粉 孢子粉 铁皮石斛 黑枸杞 菊苣 金线莲 蒲黄
谷维素 安神补脑液 维生素 鱼油 钙片 褪黑素 益生菌 葡萄糖酸钙 藿香正气 板蓝根颗粒 六味地黄丸
艾草 艾灸 红景天 马兰头
叶黄素 葛花 葛根粉
""".split())
