"""Deterministic, realistic Chinese customer data: company and person names, valid 统一社会信用代码,
mobile numbers and regions. Used by the demo data and the benchmarks; seeded, so runs repeat."""

import random

from stdnum.cn import uscc

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志斌宇浩凯晨欣怡婷雪琳颖倩佳文博思远子涵梓轩一诺雨泽俊豪"
# (region code, province, city) — real administrative division codes.
REGIONS = [
    ("110105", "北京市", "朝阳区"), ("110108", "北京市", "海淀区"), ("310115", "上海市", "浦东新区"),
    ("310104", "上海市", "徐汇区"), ("440305", "广东省", "深圳市"), ("440106", "广东省", "广州市"),
    ("330106", "浙江省", "杭州市"), ("320102", "江苏省", "南京市"), ("320505", "江苏省", "苏州市"),
    ("510107", "四川省", "成都市"), ("420106", "湖北省", "武汉市"), ("610113", "陕西省", "西安市"),
    ("370202", "山东省", "青岛市"), ("350203", "福建省", "厦门市"), ("120101", "天津市", "和平区"),
    ("500103", "重庆市", "渝中区"), ("430104", "湖南省", "长沙市"), ("410105", "河南省", "郑州市"),
    ("450103", "广西壮族自治区", "南宁市"), ("210102", "辽宁省", "沈阳市"),
]
TRADE_WORDS = [
    "华康", "德奥", "恒信", "瑞丰", "金桥", "宏达", "嘉禾", "鑫源", "博远", "天成", "安泰", "盛世",
    "永安", "致远", "中科", "新元", "同仁", "康宁", "长城", "海纳", "聚能", "明德", "正和", "泰昂",
    "锦程", "广信", "润华", "启航", "东方", "星辰", "弘毅", "佳美", "益民", "福瑞", "信达", "卓越",
]
INDUSTRIES = [
    ("医疗器械", "医疗器械"), ("康复辅具", "康复辅具"), ("医院", "医疗卫生"), ("物流", "交通运输"),
    ("商贸", "批发零售"), ("科技", "信息技术"), ("制造", "制造业"), ("物业", "房地产"), ("燃气", "公用事业"),
]
LEGAL_FORMS = ["有限公司", "股份有限公司", "有限责任公司", "科技有限公司", "贸易有限公司"]
STREETS = ["人民路", "解放路", "中山路", "建设路", "和平路", "文化路", "科技园路", "长江路", "黄河路", "新华路"]
MOBILE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "177", "186", "187", "188", "189", "199"]
TITLES = ["总经理", "采购经理", "财务主管", "院长", "科室主任", "业务经理", "店长", "行政主管"]
SCALES = ["小型", "中型", "大型"]

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def organisation_code(rng: random.Random) -> str:
    """A 9-character 组织机构代码 (GB 11714) with its check character."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(c) * w for c, w in zip(body, _ORG_WEIGHTS))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, region_code: str) -> str:
    """A valid 18-character 统一社会信用代码: 9 (工商) 1 (企业), region, organisation code, check."""
    partial = "91" + region_code + organisation_code(rng)
    return partial + uscc.calc_check_digit(partial + "0")


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))


def company(rng: random.Random, index: int) -> dict:
    """One enterprise customer's fields; `index` keeps names distinct across large runs."""
    region_code, province, city = rng.choice(REGIONS)
    trade = rng.choice(TRADE_WORDS) + rng.choice(TRADE_WORDS)
    industry_word, industry = rng.choice(INDUSTRIES)
    suffix = "" if index < 1000 else str(index)
    name = f"{city.removesuffix('市').removesuffix('区')}{trade}{suffix}{industry_word}{rng.choice(LEGAL_FORMS)}"
    return {
        "name": name,
        "credit_code": credit_code(rng, region_code),
        "legal_representative": person_name(rng),
        "address": f"{province}{city}{rng.choice(STREETS)}{rng.randint(1, 999)}号",
        "region": f"{province}{city}" if province != city else city,
        "industry": industry,
        "scale": rng.choice(SCALES),
    }


def contact(rng: random.Random, primary: bool = False) -> dict:
    return {"name": person_name(rng), "title": rng.choice(TITLES), "phone": mobile(rng), "is_primary": primary}
