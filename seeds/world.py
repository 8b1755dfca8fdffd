"""The places, bodies and figures named in the Legal Daily report, in simplified Chinese."""

import datetime

REGION = ("650000", "新疆维吾尔自治区")

PREFECTURES = [
    ("650100", "乌鲁木齐市"),
    ("652300", "昌吉回族自治州"),
    ("652700", "博尔塔拉蒙古自治州"),
    ("652800", "巴音郭楞蒙古自治州"),
    ("653100", "喀什地区"),
    ("653200", "和田地区"),
    ("654000", "伊犁哈萨克自治州"),
    ("654200", "塔城地区"),
    ("654300", "阿勒泰地区"),
]

# county code, name, prefecture code, what the centre was built from, opened on, notes
COUNTIES = [
    ("652701", "博乐市", "652700", "replaced_office", None,
     "“书记领衔”：市委副书记、政法委书记兼任综治中心主任；依托综合服务平台实现闭环管理。"),
    ("652325", "奇台县", "652300", "legal_affairs_centre", None,
     "“8家常驻+5家轮驻”，70多名工作人员入驻；强化信息化平台应用，及早预防处置社会治安风险。"),
    ("653222", "墨玉县", "653200", "replaced_office", None,
     "统筹16家常驻、6家轮驻，其他职能部门“随叫随驻”；依托数据分析精准调配部门资源。"),
    ("654024", "巩留县", "654000", "mediation_centre", None, "在原矛调中心基础上改造升级。"),
    ("654324", "哈巴河县", "654300", "mediation_centre", None,
     "统筹卫健等部门，“调解+心理服务”，将心理疏导融入矛盾纠纷化解全过程。"),
    ("650103", "沙依巴克区", "650100", "legal_affairs_centre", None, "在原法务中心基础上改造升级。"),
    ("652301", "昌吉市", "652300", "legal_affairs_centre", None, "在原法务中心基础上改造升级。"),
    ("652801", "库尔勒市", "652800", "replaced_office", None,
     "10家单位常驻、10家单位轮驻，40多名调解“行家里手”组建专家库；"
     "“网格发现、中心吹哨、部门报到、书记站台、末端评价”联动机制，90%以上矛盾纠纷在乡镇、村两级化解。"),
    ("653128", "岳普湖县", "653100", None, None,
     "统筹卫健等部门，“法律宣传+心理疏导”，助力案结事了心顺。"),
    ("654203", "沙湾市", "654200", None, datetime.date(2025, 1, 26),
     "1月26日正式揭牌；市委政法委副书记武晓平；“一站式”服务让群众诉求“最多跑一地”。"),
    ("653224", "洛浦县", "653200", None, None,
     "因需建库、分类建库、全量建库，打造电子专家库；当事人“点对点”选择专家，"
     "提前预约、随叫随到或远程视频调解。"),
]

CENTRE_PEOPLE = {
    "652701": {"director": "市委副书记、政法委书记（兼）"},
    "654203": {"head": "王佼"},
}

# code, name, one of the four merged centres
FUNCTIONS = [
    ("litigation_service", "诉讼服务", True),
    ("procuratorial_service", "检察服务", True),
    ("public_legal_service", "公共法律服务", True),
    ("petition_reception", "信访接待", True),
    ("people_mediation", "人民调解", False),
    ("labour_arbitration", "劳动人事争议仲裁", False),
    ("police_mediation", "治安调解", False),
    ("psychological_counselling", "心理疏导", False),
    ("legal_aid", "法律援助", False),
    ("notarisation", "公证", False),
    ("judicial_appraisal", "司法鉴定", False),
    ("administrative_reconsideration", "行政复议", False),
    ("administrative_ruling", "行政裁决", False),
]

CATEGORIES = [
    ("marriage_family", "婚姻家庭"),
    ("neighbour", "邻里纠纷"),
    ("private_lending", "民间借贷"),
    ("labour", "劳动争议"),
    ("land_contract", "土地承包"),
    ("property_management", "物业纠纷"),
    ("consumer", "消费纠纷"),
    ("medical", "医疗纠纷"),
    ("traffic", "交通事故"),
    ("land_requisition", "征地拆迁"),
    ("contract", "合同纠纷"),
    ("damages", "损害赔偿"),
    ("other", "其他纠纷"),
]

# code, name, functions, categories it answers for
DEPARTMENTS = [
    ("court", "人民法院", ["litigation_service", "people_mediation"],
     ["private_lending", "contract", "marriage_family", "traffic", "damages"]),
    ("procuratorate", "人民检察院", ["procuratorial_service"], ["damages", "other"]),
    ("public_security", "公安局", ["police_mediation"], ["neighbour", "traffic", "damages"]),
    ("justice", "司法局", ["public_legal_service", "people_mediation", "legal_aid", "notarisation",
                        "judicial_appraisal", "administrative_reconsideration"],
     ["neighbour", "marriage_family", "private_lending", "contract", "other"]),
    ("petition", "信访局", ["petition_reception"], ["land_requisition", "other"]),
    ("hrss", "人力资源和社会保障局", ["labour_arbitration"], ["labour"]),
    ("health", "卫生健康委员会", ["psychological_counselling"], ["medical"]),
    ("women", "妇女联合会", ["people_mediation", "psychological_counselling"], ["marriage_family"]),
    ("natural_resources", "自然资源局", ["administrative_ruling"], ["land_contract", "land_requisition"]),
    ("housing", "住房和城乡建设局", [], ["property_management", "land_requisition"]),
    ("market", "市场监督管理局", [], ["consumer"]),
    ("civil_affairs", "民政局", [], ["marriage_family"]),
    ("education", "教育局", [], ["other"]),
    ("agriculture", "农业农村局", ["administrative_ruling"], ["land_contract"]),
    ("transport", "交通运输局", [], ["traffic"]),
    ("environment", "生态环境局", [], ["damages"]),
    ("emergency", "应急管理局", [], ["damages"]),
    ("trade_union", "总工会", ["people_mediation"], ["labour"]),
    ("veterans", "退役军人事务局", [], ["other"]),
    ("disabled", "残疾人联合会", [], ["other"]),
    ("medical_insurance", "医疗保障局", [], ["medical"]),
    ("forestry", "林业和草原局", [], ["land_contract"]),
    ("water", "水利局", [], ["land_contract"]),
    ("youth_league", "共青团", [], ["other"]),
    ("finance", "金融监管局", [], ["private_lending", "consumer"]),
]

# Stationed units by centre, as the article counts them: (resident, rotating, on call) department codes.
CORE = ["court", "procuratorate", "justice", "petition"]
UNITS = {
    "652325": (  # Qitai: 8 resident + 5 rotating, 70-odd staff
        CORE + ["public_security", "hrss", "women", "natural_resources"],
        ["health", "housing", "market", "civil_affairs", "trade_union"],
        [],
    ),
    "653222": (  # Moyu: 16 resident, 6 rotating, others on call
        CORE + ["public_security", "hrss", "health", "women", "natural_resources", "housing",
                "market", "civil_affairs", "agriculture", "trade_union", "education",
                "medical_insurance"],
        ["transport", "environment", "emergency", "veterans", "disabled", "forestry"],
        ["water", "youth_league", "finance"],
    ),
    "652801": (  # Korla: 10 resident + 10 rotating
        CORE + ["public_security", "hrss", "health", "women", "natural_resources", "housing"],
        ["market", "civil_affairs", "agriculture", "trade_union", "education", "transport",
         "environment", "emergency", "medical_insurance", "finance"],
        [],
    ),
    "654324": (CORE + ["health"], [], []),  # Habahe: mediation + psychological counselling
    "653128": (CORE + ["health"], [], []),  # Yuepuhu: the same
}
# Every other named centre has at least the four merged services stationed.
DEFAULT_UNITS = (CORE, [], [])
QITAI_STAFF = 72  # "70多名工作人员入驻"

LANGUAGES = [
    ("zh", "国家通用语言"),
    ("ug", "维吾尔语"),
    ("kk", "哈萨克语"),
    ("mn", "蒙古语"),
    ("ky", "柯尔克孜语"),
]

# code, name, order, days to accept, days to handle, most extension days, extension needs approval
ROUTES = [
    ("mediation", "调解", 1, 3, 30, 15, True),
    ("arbitration", "仲裁", 2, 5, 45, 15, True),
    ("administrative_ruling", "行政裁决", 3, 5, 60, 30, True),
    ("administrative_reconsideration", "行政复议", 4, 5, 60, 30, True),
    ("petition", "信访行政三级办理", 5, 15, 60, 30, True),
    ("litigation", "诉讼", 6, 7, 180, 180, True),
    ("legal_supervision", "法律监督", 7, 7, 90, 0, True),
]

# Shawan's service counts since opening on 26 January (the report is of mid-March 2025).
SHAWAN_SERVICES = {
    "period": (datetime.date(2025, 1, 26), datetime.date(2025, 3, 12)),
    "counts": {
        "visitor": 158,
        "notarisation": 230,
        "legal_aid": 18,
        "legal_help": 37,
        "judicial_appraisal": 62,
        "dispute_resolved": 131,
    },
}

# Korla's expert pool of 40-odd mediators; Luopu's classified library.
KORLA_EXPERTS = 42
LUOPU_EXPERTS = 24

BOLE_CASE = {
    "case_no": "652701-2025-00001",
    "title": "刘某英诉张某民间借贷纠纷",
    "category": "private_lending",
    "route": "mediation",
    "amount": "78000.00",
    "source": "window",
    "level": "county",
    "risk": "medium",
    "description": (
        "2024年1月，张某先后向刘某英借款7.8万元用于合资开美容店。半年后，美容店不仅没有开张，"
        "店铺的装修也停滞不前。张某以外出考察为由出疆近4个月，联系不上。刘某英来到博乐市社会治安"
        "综合治理中心法院立案窗口反映情况。"
    ),
    "registered_at": datetime.datetime(2025, 3, 7, 10, 0),
    "accepted_at": datetime.datetime(2025, 3, 7, 10, 30),
    "referred_at": datetime.datetime(2025, 3, 7, 11, 0),
    "reported_at": datetime.datetime(2025, 3, 7, 11, 20),
    "session_at": datetime.datetime(2025, 3, 10, 10, 0),
    "concluded_at": datetime.datetime(2025, 3, 10, 12, 0),
    "feedback_at": datetime.datetime(2025, 3, 11, 9, 30),
    # ID numbers without their check digit, which the loader computes (GB 11643).
    "parties": [
        ("applicant", "刘某英", "65270119850612002", "13899751234"),
        ("respondent", "张某", "65270119880315451", "13909092345"),
    ],
    "trace_note": "工作人员多方联系，得知张某在杭州出差。",
    "agreement": "张某承诺每月按时向刘某英还款，一年内还清全部欠款7.8万元。",
    "staff": "董秀君",
}
