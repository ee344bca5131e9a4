"""Surnames, honorifics and given names used by the person-name recognizers."""

from __future__ import annotations

# The most common Chinese single-character surnames (covering well over 90% of people).
ZH_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰"
    "焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲"
    "房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟"
    "应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
    "赖裘鞠蔺阚"  # common enough, and seldom the first character of an everyday word
)
ZH_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 慕容 令狐 夏侯 尉迟 公孙 长孙 宇文 司徒 司空 澹台 轩辕 "
    "端木 独孤 南宫 百里 呼延 万俟 闻人 东郭 西门 公冶 太史 申屠 钟离 宗政 濮阳 淳于 单于 拓跋".split()
)
# The single-character surnames of the Hundred Family Surnames (百家姓, Song dynasty, public
# domain), the classical list people are named from. Many are also everyday words (水, 山, 家,
# 能, 花), so they are trusted only with a title after them (能师傅, 花女士): see
# ZH_SURNAMES_TITLED and ZH_TITLES_STRICT.
ZH_BAIJIAXING = frozenset(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛"
    "奚范彭郎鲁韦昌马苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康"
    "伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵"
    "席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房裘缪干解应宗"
    "丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫"
    "乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄"
    "印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍璩桑桂"
    "濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈廖庾终暨居衡步都耿满弘"
    "匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾毋沙乜养鞠须丰巢关蒯相"
    "查后荆红游竺权逯盖益桓公"
)
# Forms of address that follow a bare surname: 王先生, 李女士, 张阿姨, 李总.
ZH_HONORIFICS = (
    "先生", "女士", "小姐", "阿姨", "叔叔", "老师", "医生", "大夫", "药师", "护士", "师傅",
    "大爷", "大妈", "奶奶", "爷爷", "老板", "经理", "主任", "同学", "太太", "夫人", "姐", "哥",
    "总", "科长", "处长", "局长", "院长", "所长", "总监", "主管", "伯伯", "婆婆",
    "阿婆", "老头", "老太", "大哥", "大姐", "律师", "教授", "警官",
)
# The titles that make a surname of any Hundred-Family character. One-character titles
# (姐, 哥, 总) are left out: 空姐, 师姐 and 家姐 are words, not names.
ZH_TITLES_STRICT = tuple(h for h in ZH_HONORIFICS if len(h) >= 2)
# Hundred-Family surnames that are read as a surname only before one of those titles. Left
# out: characters that before a title are far more often a function word or a verb
# (经医生诊断, 从医生那里, 能老师帮我, 后医生又说, 家庭医生).
ZH_SURNAMES_TITLED = ZH_BAIJIAXING - frozenset("那都从经后终通相别空家公干居能")
# Words that introduce a person's name in Chinese notes.
ZH_NAME_CONTEXT = (
    "患者", "病人", "家属", "收件人", "收货人", "联系人", "签收人", "持卡人", "持有人", "客户",
    # the people who bring the medicine, as reviews name them (骑手小孔, 快递员付强), and
    # the people a post names by their relation to the writer (店长老焦, 同学张敏)
    "骑手", "快递员", "配送员", "送货员", "店员", "药剂师", "店长", "同学", "闺蜜", "朋友",
    "室友", "邻居",
    "会员", "用户", "顾客", "买家", "我叫", "我是", "姓名", "名字", "本人", "药师", "医生",
    "客服", "代取人", "监护人", "配偶", "儿子", "女儿", "母亲", "父亲", "丈夫", "妻子", "签名",
    # kinship as people write it in messages, and form fields
    "妈妈", "爸爸", "我妈", "我爸", "老婆", "老公", "爷爷", "奶奶", "外婆", "外公", "姥姥",
    "孩子", "宝宝", "提交人", "申请人", "经办人", "负责人", "开方医生", "处方医生", "老客户",
)
# Words for a role or a relation: they introduce a name (ZH_NAME_CONTEXT) or stand for one
# (a transcript's speaker label 顾客：), and are never a name themselves, whatever a model
# says of them.
ZH_ROLE_WORDS = frozenset(ZH_NAME_CONTEXT) | frozenset(
    "顾客 客户 客服 药师 医生 患者 病人 家属 店员 店长 骑手 快递员 配送员 送货员 快递小哥 "
    "坐席 专员 主管 经理 护士 大夫 老师 师傅 同事 领导 老板 老板娘 买家 卖家 商家 掌柜 亲 "
    "宝宝 孩子 老人 小孩 阿姨 叔叔 先生 女士 小姐 收件人 联系人 本人 用户 会员 "
    "师姐 师兄 师妹 师弟 空姐 表姐 表哥 堂姐 堂哥 "
    # how families call a child (吴语 囡囡, 大宝 and 二宝 for the first and second child),
    # grandchildren and old people, and a salesman's title
    "囡囡 大宝 二宝 小宝 熊孩子 孙子 孙女 外孙 外孙女 阿婆 阿公 阿伯 顾问 "
    # how chat addresses a young man or woman it does not name (骑手小哥, 客服小姐姐), and
    # the aunts and uncles of a family group chat
    "小哥 小哥哥 小姐姐 小姑 小姨 小舅 大姑 大姨 大舅 姑妈 姨妈 舅妈 婶婶 姑父 姨父".split()
)
# Characters that cannot end a given name: particles and very common verbs/adverbs that
# follow a name in running text ("张伟说", "李娜已").
ZH_NOT_IN_NAME = frozenset("的了是在说和与及已也都就要会把被给从向对让请不没很还再又才将于为等有")

# Characters common in Chinese given names. A word jieba's HMM invented (not in any
# dictionary) that starts with a surname is taken for a name only if the rest is made of
# these, which keeps 冷链, 方便, 高新 and the like out.
ZH_GIVEN_CHARS = frozenset(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰梅凤云莲珍彬斌宇浩然轩"
    "涵子梓欣怡萱雨桐思远嘉俊一鸣海燕佳琪若曦春晓诗家豪振天佑淑立新卫东永丹萍鹏辉玲慧颖琳雪"
    "健凯文博亮婷倩晨阳欢瑶璐薇蕾露洁晶莹蓉莉琴婉婕妍媛雯菲芸荣晴蕊悦宁安康泽睿铭瑞祥福禄寿"
    "德仁义礼智信忠孝勤俭贤良富贵昌盛兴隆武成功胜利达飞鹰龙虎豹麟凤鹤松柏林森峰岩山川江河"
    "波涛洪清源泉溪澜沛霖霏雯彤馨晗昕曦旭晖煜炜烨耀光星辰月日朝夕晚秋冬夏青翠蓝紫丰满艺美"
    "静雅惠慈爱心怡乐欢喜庆祺祯祥锦绣帆航舟远达通进步高升腾跃鑫金银铜铁钢锋锐钰铭鸿鹏翔翰"
    "墨书画琴棋诗词歌赋楠桦榕槿樱桃杏李梨荷菊兰竹蕙芷芝蓓蕾芬芹英茜茹莎菁萌蔚蓓珊瑜瑾璇"
    "璟琦琬瑶琼瑛环珠宝贝彩霓虹韵律音笛萧箫卓越超凡俊彦秀颜容姿仪仪嫣娴婧姝妮娅娇媚妙"
    "之子文武学士宏伯仲叔季元亨利贞正直方圆中和平顺安稳定坤乾震巽兑艮离坎"
)
# Common English given names (US SSA / UK ONS top lists, plus frequent international ones).
EN_FIRST_NAMES = frozenset("""
James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty
Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua
Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald
Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy
Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott
Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank
Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane
Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia Douglas Victoria Zachary Kelly
Peter Lauren Kyle Christina Ethan Joan Walter Evelyn Noah Judith Jeremy Megan Christian Andrea
Keith Cheryl Roger Hannah Terry Jacqueline Gerald Martha Harold Gloria Sean Teresa Austin Ann
Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail
Billy Alice Joe Judy Bruce Sophia Gabriel Grace Logan Denise Albert Amber Willie Doris Alan
Marilyn Juan Danielle Wayne Beverly Elijah Isabella Randy Theresa Roy Diana Vincent Natalie
Ralph Brittany Eugene Charlotte Russell Marie Bobby Kayla Mason Alexis Philip Lori Louis Chloe
Oliver Lucas Liam Mia Ava Zoe Lily Ella Leo Max Sophie Lucy Jack Harry Charlie Oscar Isla
Amelia Freya Ruby Alfie Archie Theo Finn Luke Owen Ian Neil Colin Graham Fiona Claire Siobhan
Niamh Aoife Sean Ciaran Priya Raj Rahul Anil Sunita Deepak Arjun Ahmed Mohammed Muhammad Ali
Fatima Aisha Omar Hassan Yusuf Mateo Santiago Diego Carlos Luis Miguel Sofia Valentina Camila
Lucia Elena Ana Pablo Javier Hans Klaus Ingrid Greta Lena Anja Lars Sven Astrid Pierre Marie
Claude Camille Hugo Louise Giulia Marco Luca Francesca Yuki Hiroshi Kenji Haruto Sakura Akira
Min Jin Hyun Seo Ji Kevin Tony Vivian Cindy Jenny Amy Eric Jason Wendy Alex Sam Kate Tom Ben
""".split())

EN_TITLES = ("Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Mx", "Sir", "Madam")

# Hanyu pinyin surnames, for Chinese names written in Latin script ("Wang Fang").
PINYIN_SURNAMES = frozenset("""
Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng Liang
Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Yuan Pan Yu Jiang Cai Du Ye Cheng Su
Wei Lv Ding Ren Shen Yao Lu Cui Zhong Tan Wan Fan Jin Shi Liao Jia Xia Fu Fang Bai Zou Meng
Xiong Qin Qiu Yin Xue Yan Duan Lei Hou Long Kong Mao Hao Gong Shao Qian Dai Mo Xiang Ouyang
Sima Zhuge Shangguan
""".split())


# ZH_SURNAMES and ZH_COMPOUND_SURNAMES romanised without tones (generated once with
# pypinyin's single-character table; importing that table costs ~50 MB of memory).
# "Hong" is left out: it is the first word of Hong Kong far more often than a surname.
PINYIN_SURNAMES = PINYIN_SURNAMES | frozenset("""
Ai An Ao Bai Baili Bao Bi Bian Bo Cai Cao Cen Ceng Cha Chai Chang Che Chen Cheng Chi Chou
Chu Chunyu Cong Cui Dai Dan Dang Dantai Danyu Deng Di Diao Ding Dong Dongfang Dongguo Dou Du
Duan Duanmu Dugu Fan Fang Fei Feng Fu Gan Gao Ge Geng Gong Gongsun Gongye Gou Gu Guan Gui
Guo Han Hao He Hou Hu Hua Huang Huangfu Huo Huyan Ji Jia Jian Jiang Jiao Jie Jin Jing Kang
Ke Kong Kou Kuang Lan Lang Lei Leng Li Lian Liang Liao Lin Ling Linghu Liu Long Lou Lu Luan
Luo Ma Mai Mao Mei Meng Mi Miao Min Ming Mo Mou Mu Murong Nangong Ni Nie Ning Niu Nong Ou
Ouyang Pan Pang Pei Peng Pu Puyang Qi Qian Qiao Qin Qiu Qu Quan Ran Rao Ren Rong Ruan Sang
Sha Shang Shangguan Shao She Shen Sheng Shentu Shi Shu Si Sikong Sima Situ Song Su Sui Sun
Taishi Tan Tang Tao Teng Tian Tong Tu Wan Wang Wanqi Wei Weichi Wen Weng Wenren Wu Xi Xia
Xiahou Xiang Xiao Xie Ximen Xin Xing Xiong Xu Xuanyuan Xue Yan Yang Yao Ye Yi Yin Ying You
Yu Yuan Yue Yuwen Zang Zhan Zhang Zhangsun Zhao Zhen Zheng Zhong Zhongli Zhou Zhu Zhuang
Zhuge Zhuo Zong Zongzheng Zou Zuo
""".split())


def _jieba_given_chars(min_count: int = 4) -> frozenset[str]:
    """Characters that recur after a surname in the person names of jieba's own dictionary
    (three-character words tagged ``nr``), minus function characters: a far wider given-
    name inventory than a hand list, taken from data that ships with jieba."""
    import os
    from collections import Counter

    import jieba

    counts: Counter[str] = Counter()
    path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "nr" and len(parts[0]) == 3 \
                    and parts[0][0] in ZH_SURNAMES:
                counts.update(parts[0][1:])
    return frozenset(ch for ch, n in counts.items() if n >= min_count) - _NOT_GIVEN


# Characters that are grammar, pronouns or everyday verbs far more often than names.
_NOT_GIVEN = frozenset("的了是在有和我你他她它们这那不也都会到说个上下来去没很要就把被给从向对让请"
                       "与及已还再又才将于为等吗呢吧啊哦嗯么什怎样些每各该此其所以而且但或如果因")
ZH_GIVEN_CHARS = ZH_GIVEN_CHARS | _jieba_given_chars()

# Titles after which any single Han character that starts a word is a surname (檀女士, 铁先生,
# 朴先生): rare surnames are missing from every list, and these titles follow nothing else.
ZH_STRONG_TITLES = ("先生", "女士", "小姐", "老板")
# Characters that come before those titles without being a surname: demonstratives, measure
# words, numbers, pronouns, 老/小/男/女 (老先生, 小姐姐, 男女士), 某 (an anonymised person).
ZH_NOT_SURNAME_BEFORE_TITLE = frozenset(
    "位这那各某老小男女大每该此本贵令尊其诸众两几二三四五六七八九十一他她您你我们是的了和与及"
    "跟同称叫问找给向对让请为有在从把被将于等啊呀吗呢吧哦嗯么"
    "新原前现总做当"  # 新老板, 前老板, 当老板: which one, not whose name
)
# Words after which a given name alone is how people are named (我叫国强, 一个叫晓静的).
ZH_CALLED_CONTEXT = (
    "名叫", "叫做", "叫我", "我叫", "我是客服", "他叫", "她叫", "个叫", "孩子叫", "儿子叫",
    "女儿叫", "老婆叫", "老公叫", "小名叫", "名字叫", "小名", "乳名",
)
# Words before a child's (or a colleague's) given name alone: 患儿朵朵, 我儿子豆豆, 客服欢欢.
ZH_GIVEN_ONLY_CONTEXT = (
    "患儿", "儿子", "女儿", "孩子", "宝宝", "小孩", "闺女", "小朋友", "孙子", "孙女", "外孙",
    "外孙女", "客服", "同事",
)
# Reduplicated words that are ordinary words, not pet names (a doubled given-name character,
# 欢欢 or 豆豆, is how children and colleagues are called).
ZH_COMMON_DOUBLED = frozenset(
    "常常 刚刚 慢慢 天天 好好 看看 谢谢 妈妈 爸爸 哥哥 姐姐 弟弟 妹妹 爷爷 奶奶 宝宝 星星 渐渐 "
    "偏偏 仅仅 往往 悄悄 默默 轻轻 明明 多多 快快 早早 久久 人人 处处 家家 个个 试试 想想 说说 "
    "走走 等等 问问 点点 稍稍 统统 纷纷 匆匆 单单 白白 冷冷 满满 大大 小小 高高 长长 深深 远远 "
    "紧紧 哈哈 呵呵 嘿嘿 嘻嘻 啦啦 嗯嗯 哦哦 呜呜 姑姑 舅舅 叔叔 婶婶 伯伯 公公 婆婆 太太 娃娃 "
    "乖乖 年年 月月 日日 时时 刻刻 次次 回回 样样 件件 条条 块块 片片 层层 步步 声声 句句 "
    "事事 头头 种种 分分 秒秒 尝尝 聊聊 玩玩 查查 帮帮 催催 急急 忙忙 连连 频频 屡屡 "
    "亲亲 抱抱 摸摸 拜拜 嘀嘀 滴滴 咚咚 叮叮 哗哗 沙沙 蒙蒙 朦朦 隐隐 微微 略略 恰恰 足足 "
    "整整 好多 万万 千千 区区 堂堂 茫茫 熊熊 洋洋 淡淡 浅浅 暖暖 凉凉 热热 酸酸 甜甜 苦苦 "
    "辣辣 香香 软软 硬硬 干干 湿湿 痒痒 疼疼 胖胖 瘦瘦".split()
)
# What follows a brand or a shop named after a person (张仲景大药房, 王老吉凉茶, 叶开泰专柜,
# 汤氏口腔诊所): a name right before one of these is the brand's, not a person in the note.
ZH_BRAND_AFTER = (
    "大药房", "药房", "药店", "药业", "制药", "药厂", "专柜", "专卖店", "旗舰店", "凉茶", "牌",
    "堂", "诊所", "口腔", "集团", "公司", "品牌", "门诊", "医院", "中医馆", "国医馆", "商行",
    # a company's trade: 杭州明康医疗器械有限公司 (not 医疗 or 医药 alone: 张伟医疗保险)
    "医疗器械", "药械", "生物科技", "医药科技",
    # an online shop's own words: 康宁优选, @康宁官方, 康宁商城 (a surname-like shop name)
    "优选", "官方", "商城", "自营", "严选", "中医诊所", "中医院",
)
# Shops named after their owner's family: 王记面馆, 汤氏诊所 (a 记 or 氏 may come between the
# name and the trade; not 家: 王小明家超市 is where Wang Xiaoming lives as often).
ZH_SHOP_AFTER = (
    "饺子馆", "面馆", "饭馆", "餐馆", "餐厅", "饭店", "酒家", "火锅", "麻辣烫", "超市", "便利店",
    "牛肉面", "拉面", "米线", "烧烤",
    # a medicine or a product sold under a person's name: 白敬宇眼膏
    "眼膏", "软膏", "药膏", "乳膏", "胶囊", "颗粒", "口服液", "滴眼液", "喷雾剂",
)
ZH_FAMILY_SHOP_LINK = ("记", "氏")
# Brands, shops, chains and apps whose names read as a person's (a surname first, or a
# 老/小/阿 form), named alone in chat and reviews: 马应龙还有吗, 杨国福吃完拉肚子了,
# 小红书上被种草的. A name found inside one of these, from its first character, is the brand. Historical
# people that brands are named after but that notes also mention as people (张仲景, 华佗,
# 李时珍), names as much a person's as a brand's (李宁, 小米, 康美, 苏宁) and chains named
# with a title (钱大妈, 鲍师傅: 配送员鲍师傅 is a courier) are left out; a surname with a
# title is a person whatever follows. A two-character brand is only taken where the name
# found is exactly it.
ZH_NAMED_BRANDS = frozenset(
    # medicines and pharmacies
    "马应龙 潘高寿 王老吉 黄道益 季德胜 陈李济 雷允上 何济公 冯了性 胡庆余堂 叶开泰 汤臣倍健 同仁堂 "
    "白云山 云南白药 金嗓子 丁香医生 平安好医生 阿里健康 京东健康 叮当快药 海王星辰 "
    "老百姓 一心堂 大参林 鱼跃 欧姆龙 乐敦 曼秀雷敦 葵花药业 修正药业 "
    # food, shops and consumer brands
    "杨国福 周黑鸭 张亮麻辣烫 刘一手 王小卤 钟薛高 李锦记 王致和 王守义 老干妈 周大福 周生生 "
    "周六福 谢瑞麟 张小泉 徐福记 吴裕泰 张一元 "
    # apps, platforms and couriers
    "小红书 阿里巴巴 阿里云 申通 韵达 顺丰 京东 盒马 闲鱼 钉钉 美团 饿了么 "
    # more medicines, appliances and games named alone in chat
    "念慈菴 海氏海诺 邓老凉茶 戴森 王者荣耀".split()
)
# Sayings and placeholders that hold a name but point at nobody (事后诸葛亮: wise after the
# event; 张三李四: any Tom, Dick or Harry).
ZH_NAME_SAYINGS = ("事后诸葛亮", "张三李四", "王二麻子", "活雷锋", "三个臭皮匠", "华佗再世",
                   "扁鹊再世",
                   # the set phrases that open a notice: 温馨 is a given name elsewhere
                   "温馨提示", "温馨提醒", "温馨小贴士")
# The 24 solar terms that read as 小X / 大X or as a name (小满一过天就热).
ZH_SOLAR_TERMS = frozenset("立春 雨水 惊蛰 春分 清明 谷雨 立夏 小满 芒种 夏至 小暑 大暑 立秋 处暑 "
                           "白露 秋分 寒露 霜降 立冬 小雪 大雪 冬至 小寒 大寒".split())
# Interjections and chat fillers typed doubled (恩恩 for 嗯嗯): never anybody's name.
ZH_CHAT_FILLERS = frozenset(
    "哈哈 呵呵 嘿嘿 嘻嘻 嗯嗯 恩恩 哦哦 噢噢 喔喔 呜呜 啊啊 嘤嘤 哼哼 么么 嗷嗷 对对 是是 行行 "
    "好好 谢谢 拜拜 亲亲".split()
)
# Everyday words that start with a surname character and that a name model takes for a
# name in chat: languages (韩文, 日语), and the panda and cartoon bears children talk about.
ZH_WORDS_NOT_NAMES = frozenset(
    "韩文 日文 英文 法文 德文 俄文 韩语 日语 英语 法语 德语 俄语 粤语 熊猫 熊大 熊二 熊出没 "
    # 戴 (wear) before what is worn: 戴眼镜的店员
    "戴眼镜 戴口罩 戴帽子 吉祥物".split()
)
# Animals people name: 我家狗子叫旺财 names a pet, not a person.
ZH_PET_WORDS = ("狗子", "狗狗", "小狗", "猫咪", "猫猫", "小猫", "宠物", "鹦鹉", "兔子", "仓鼠", "狗", "猫",
                "吉祥物")  # and a mascot: 吉祥物琮琮
