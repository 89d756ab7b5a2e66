"""The shape of the demo district: Guangming's 6 streets and 31 communities, and local place names.

Streets and communities are the real ones (光明区 since 2018: 6 街道, 31 社区); the 103 片区网格 match
the district's "103个片区网格党组织". Estate and village names are real where public reports name
them, otherwise made up from the community's name.
"""

from __future__ import annotations

# street -> its communities (in the district's usual order)
STREETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("光明街道", ("光明社区", "东周社区", "翠湖社区", "迳口社区", "白花社区", "碧眼社区")),
    ("公明街道", ("公明社区", "上村社区", "下村社区", "西田社区", "李松蓢社区")),
    ("新湖街道", ("楼村社区", "新羌社区", "圳美社区")),
    ("凤凰街道", ("凤凰社区", "塘家社区", "东坑社区", "甲子塘社区", "塘尾社区")),
    ("玉塘街道", ("玉律社区", "田寮社区", "长圳社区", "红星社区")),
    (
        "马田街道",
        ("合水口社区", "马山头社区", "薯田埔社区", "根竹园社区", "将围社区", "新庄社区", "石家社区", "石围社区"),
    ),
)

AREA_GRIDS_PER_COMMUNITY = 3
# The most populous communities have one more 片区网格: 31 × 3 + 10 = 103.
BIGGER_COMMUNITIES = frozenset(
    {
        "光明社区",
        "公明社区",
        "上村社区",
        "楼村社区",
        "凤凰社区",
        "塘家社区",
        "玉律社区",
        "田寮社区",
        "长圳社区",
        "合水口社区",
    }
)

# Residential estates and villages named in public reports; micro grids take these names first.
ESTATES: dict[str, tuple[str, ...]] = {
    "白花社区": ("富民花园", "裕民花园", "恒祥花园", "紫荆苑", "民鑫花园", "民盛花园", "黄屋排村", "马池田村"),
    "塘家社区": ("光谷苑", "张屋村", "塘家村"),
    "圳美社区": ("圳美新村", "圳美新围", "圳美旧围", "华侨新村", "石介头村"),
    "新羌社区": ("新陂头村", "羌下村"),
    "碧眼社区": ("碧眼旧村",),
    "根竹园社区": ("根竹园花园",),
}
# Made-up estates: the community's stem plus one of these.
ESTATE_SUFFIXES = ("新村", "旧村", "花园", "家园", "雅苑", "新围", "华庭", "公寓", "名苑", "新苑", "宿舍区", "商住楼")

# Original-village clans, so a community's residents include its old surnames (e.g. 塘家村's 唐).
LOCAL_SURNAMES = {
    "塘家社区": "唐",
    "圳美社区": "陈",
    "西田社区": "陈",
    "公明社区": "麦",
    "将围社区": "麦",
    "上村社区": "麦",
    "楼村社区": "陈",
    "白花社区": "黄",
}

# Work-unit party organisations of in-service party members who report (报到) to where they live.
WORK_UNIT_PARTY_ORGS = (
    "光明区教育局机关党支部",
    "光明区卫生健康局机关党支部",
    "光明区人民医院第二党支部",
    "光明区城市管理和综合执法局第一党支部",
    "光明区住房和建设局机关党支部",
    "光明区市场监督管理局党支部",
    "光明区司法局机关党支部",
    "光明区文化广电旅游体育局机关党支部",
    "光明区第一中学教师党支部",
    "光明区信访局党支部",
)

CHINESE_NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")


def stem(community: str) -> str:
    """凤凰社区 -> 凤凰."""
    return community.removesuffix("社区")
