"""The layers of a county workspace and their declared fields (the unified standard, 统一标准).

English names in code; the standard Chinese layer codes (XZQ, DLTB, YJJBNT, ...) are an
import/export mapping held in ``pianqu.ingest``. ``dtype`` is one of ``str``, ``int``,
``float``, ``bool``; ``required`` fields must exist and be non-null in every feature.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    dtype: str  # str | int | float | bool
    required: bool
    zh: str
    en: str


@dataclass(frozen=True)
class Layer:
    name: str
    geometry: str | None  # Polygon | Point | LineString | None (table)
    id_field: str | None
    fields: tuple[Field, ...]
    zh: str
    en: str
    standard_code: str = ""  # the usual layer name in Chinese planning databases
    partition: bool = False  # features must tile their extent without gaps or overlaps
    required: bool = False  # a workspace without it cannot be planned

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"layer '{self.name}' has no field '{name}'")

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def F(name: str, dtype: str, required: bool, zh: str, en: str) -> Field:
    return Field(name, dtype, required, zh, en)


LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in [
        Layer("county", "Polygon", "code", (
            F("code", "str", True, "县级行政区划代码（6位）", "county code (6 digits)"),
            F("name", "str", True, "县级行政区名称", "county name"),
            F("population", "int", False, "常住人口", "resident population"),
            F("urban_population", "int", False, "城镇人口", "urban population"),
        ), "县域", "county", "XZQ", required=True),
        Layer("township", "Polygon", "code", (
            F("code", "str", True, "乡级行政区划代码（9位）", "township code (9 digits)"),
            F("name", "str", True, "乡镇名称", "township name"),
            F("county_code", "str", True, "所属县代码", "county code"),
            F("kind", "str", True, "类型（镇/乡/街道）", "kind (镇/乡/街道)"),
            F("population", "int", True, "常住人口", "resident population"),
            F("area_m2", "float", False, "面积（平方米）", "area (m²)"),
        ), "乡镇", "townships", "XZQ", partition=True, required=True),
        Layer("village", "Polygon", "code", (
            F("code", "str", True, "村级区划代码（12位）", "village code (12 digits)"),
            F("name", "str", True, "村（社区）名称", "village name"),
            F("township_code", "str", True, "所属乡镇代码", "township code"),
            F("kind", "str", False, "类型（村/社区）", "kind (村/社区)"),
            F("population", "int", True, "常住人口", "resident population"),
            F("households", "int", False, "户数", "households"),
            F("village_class", "str", False, "村庄分类", "village class"),
            F("area_m2", "float", False, "面积（平方米）", "area (m²)"),
        ), "村（社区）", "villages", "CJDCQ", partition=True, required=True),
        Layer("settlement", "Point", "code", (
            F("code", "str", True, "驻地代码", "settlement code"),
            F("name", "str", True, "驻地名称", "name"),
            F("level", "str", True, "层级（county_seat/town_seat/village_seat）", "level"),
            F("population", "int", False, "人口", "population"),
            F("township_code", "str", False, "所属乡镇代码", "township code"),
            F("village_code", "str", False, "所属村代码", "village code"),
        ), "驻地", "settlements"),
        Layer("landuse", "Polygon", "bsm", (
            F("bsm", "str", True, "标识码", "feature id (BSM)"),
            F("code", "str", True, "用地用海分类代码", "用地用海 code"),
            F("name", "str", True, "用地用海分类名称", "用地用海 name"),
            F("czcsxm", "str", False, "城镇村属性码", "town/village attribute (CZCSXM)"),
            F("epoch", "int", True, "调查年度", "survey year"),
            F("area_m2", "float", False, "图斑面积（平方米，椭球面积）", "parcel area (m², ellipsoidal)"),
            F("township_code", "str", False, "坐落乡镇代码", "township code"),
            F("village_code", "str", False, "坐落单位代码", "village code (ZLDWDM)"),
            F("slope_deg", "float", False, "平均坡度（度）", "mean slope (degrees)"),
            F("source_code", "str", False, "原三调地类编码", "original 三调 code"),
            F("kcxs", "float", False, "扣除系数", "deduction coefficient (KCXS)"),
            F("kcmj", "float", False, "扣除面积（平方米）", "deducted area (KCMJ, m², mostly 田坎)"),
            F("tbdlmj", "float", False, "图斑地类面积（平方米）", "parcel land-class area (TBDLMJ = TBMJ − KCMJ, m²)"),
        ), "地类图斑", "land parcels", "DLTB", partition=True, required=True),
        Layer("farmland_pbf", "Polygon", "id", (
            F("id", "str", True, "编号", "id"),
            F("status", "str", False, "状态", "status"),
            F("area_m2", "float", False, "面积（平方米）", "area (m²)"),
        ), "永久基本农田", "permanent basic farmland", "YJJBNT"),
        Layer("eco_redline", "Polygon", "id", (
            F("id", "str", True, "编号", "id"),
            F("status", "str", False, "状态", "status"),
            F("core_zone", "bool", False, "是否自然保护地核心保护区", "protected-area core zone"),
            F("kind", "str", False, "类型", "kind"),
            F("area_m2", "float", False, "面积（平方米）", "area (m²)"),
        ), "生态保护红线", "ecological protection red line", "STBHHX"),
        Layer("urban_boundary", "Polygon", "id", (
            F("id", "str", True, "编号", "id"),
            F("status", "str", False, "状态", "status"),
            F("township_code", "str", False, "所属乡镇代码", "township code"),
            F("area_m2", "float", False, "面积（平方米）", "area (m²)"),
        ), "城镇开发边界", "urban development boundary", "CZKFBJ"),
        Layer("road", "LineString", "id", (
            F("id", "str", True, "编号", "id"),
            F("class", "str", True, "道路等级", "road class"),
            F("name", "str", False, "名称", "name"),
            F("lanes", "int", False, "车道数", "lanes"),
            F("width_m", "float", False, "路面宽度（米）", "width (m)"),
            F("speed_kmh", "float", False, "设计速度（公里/小时）", "speed (km/h)"),
            F("oneway", "bool", False, "是否单行", "one-way"),
        ), "道路", "roads", "DL"),
        Layer("river", "LineString", "id", (
            F("id", "str", True, "编号", "id"),
            F("name", "str", False, "名称", "name"),
            F("order", "int", False, "河流等级", "stream order"),
        ), "河流", "rivers", "HL"),
        Layer("facility", "Point", "id", (
            F("id", "str", True, "编号", "id"),
            F("kind", "str", True, "设施类型", "facility kind"),
            F("name", "str", False, "名称", "name"),
            F("level", "str", False, "服务层级", "service level"),
            F("capacity", "float", False, "规模（床位/学位/人）", "capacity"),
            F("area_m2", "float", False, "占地面积（平方米）", "site area (m²)"),
            F("township_code", "str", False, "所属乡镇代码", "township code"),
            F("village_code", "str", False, "所属村代码", "village code"),
        ), "公共服务设施", "facilities", "GGFWSS"),
        Layer("telecom", "Polygon", "id", (
            F("id", "str", True, "编号", "id"),
            F("tech", "str", True, "网络制式（4G/5G）", "technology (4G/5G)"),
        ), "通信覆盖", "telecom coverage", "TXFG"),
        Layer("hazard", "Polygon", "id", (
            F("id", "str", True, "编号", "id"),
            F("kind", "str", True, "灾害类型", "hazard kind"),
            F("level", "str", False, "风险等级", "risk level"),
        ), "灾害风险区", "hazard zones", "ZHFX"),
        Layer("economy", None, None, (
            F("township_code", "str", True, "乡镇代码", "township code"),
            F("sector", "str", True, "产业门类", "sector"),
            F("output", "float", True, "产值（万元）", "output (10k yuan)"),
            F("employment", "int", False, "从业人员", "employment"),
            F("year", "int", True, "年份", "year"),
        ), "分乡镇产业统计", "economy by township"),
        # -- issue 6: approvals for change detection, the reserve quota, projects for siting ----------
        Layer("approvals", "Polygon", "id", (
            F("id", "str", True, "编号", "id"),
            F("approval_no", "str", True, "批准文号", "approval number (批准文号)"),
            F("date", "str", True, "批准日期（YYYY-MM-DD）", "approval date (YYYY-MM-DD)"),
            F("kind", "str", True, "审批类型（农用地转用/土地征收/宅基地/设施农用地）",
              "kind (farmland conversion / expropriation / homestead / agricultural facility)"),
            F("approved_code", "str", False, "批准用途（用地用海代码）", "approved use (用地用海 code)"),
            F("area_m2", "float", False, "批准面积（平方米）", "approved area (m²)"),
            F("township_code", "str", False, "所属乡镇代码", "township code"),
        ), "用地审批（农转用）", "land-use approvals", "NZYSP"),
        Layer("reserve", "Polygon", "id", (
            F("id", "str", True, "编号", "id"),
            F("kind", "str", False, "类型（战略留白/机动指标）", "kind (strategic reserve / quota)"),
            F("township_code", "str", False, "所属乡镇代码", "township code"),
            F("area_m2", "float", False, "面积（平方米）", "area (m²)"),
        ), "留白用地（机动指标）", "reserve construction land (留白)", "LBYD"),
        Layer("projects", "Polygon", "id", (
            F("id", "str", True, "编号", "id"),
            F("name", "str", True, "名称", "name"),
            F("kind", "str", True, "类型（urban/transport/water/energy/ecology/agriculture/env_unit）",
              "kind (urban/transport/water/energy/ecology/agriculture/env_unit)"),
            F("major", "bool", False, "是否国家/省重大项目", "national/provincial major project"),
            F("level", "str", False, "管控类别（环境管控单元：优先保护/重点管控/一般管控）",
              "control class (environmental control units)"),
            F("source", "str", False, "来源规划", "source plan"),
        ), "项目与专项规划范围", "projects and sectoral-plan boundaries", "XMFW"),
        Layer("targets", None, None, (
            F("indicator", "str", True, "指标（farmland 耕地保有量 / pbf 永久基本农田 / "
              "redline 生态保护红线 / construction 建设用地总规模 / urban_rural 城乡建设用地 / "
              "village 村庄建设用地）",
              "indicator (farmland / pbf / redline / construction / urban_rural / village)"),
            F("target_ha", "float", True, "目标值（公顷；导入时按表头单位换算）",
              "target (ha; converted on import by the header's unit)"),
            F("year", "int", False, "目标年", "target year"),
            F("source", "str", False, "下达文件", "document that assigns it"),
        ), "规划指标（上级下达）", "planning targets (assigned by the higher-level plan)"),
        # -- issue 17: the county's designated central towns and villages -------------------------
        Layer("centres", None, None, (
            F("code", "str", False, "乡镇代码（9位）或村代码（12位）；缺省时按名称匹配",
              "township (9-digit) or village (12-digit) code; matched by name when missing"),
            F("name", "str", False, "乡镇或村名称", "township or village name"),
            F("category", "str", True, "类别（省级百强中心镇/县定中心镇/候选中心镇/中心村/候选中心村/不作中心）",
              "category (provincial / county-designated / candidate central town, central village, "
              "candidate central village, never a centre)"),
            F("reason", "str", False, "理由或备注", "reason or remark"),
        ), "中心镇（村）名单", "designated central towns and villages"),
        # -- issue 15: statistics the 体检评估 reads rather than computes -----------------------------
        Layer("statistics", None, None, (
            F("unit_code", "str", True, "行政区代码（县6位/乡镇9位/村12位）", "county, township or village code"),
            F("indicator", "str", True, "指标（tap_water_rate 农村自来水普及率 / refuse_treatment_rate 农村生活垃圾处理率 / "
              "income_per_capita 居民人均可支配收入 / urban_income_per_capita 城镇居民人均可支配收入 / "
              "rural_income_per_capita 农村居民人均可支配收入）",
              "indicator (tap_water_rate / refuse_treatment_rate / income_per_capita / urban_income_per_capita / "
              "rural_income_per_capita)"),
            F("value", "float", True, "数值（比例 0–1；收入：元）", "value (a share 0–1; income: yuan)"),
            F("year", "int", False, "年份", "year"),
            F("source", "str", False, "来源（统计年鉴等）", "source (statistical yearbook …)"),
        ), "统计指标", "statistics by administrative unit"),
        Layer("landuse_review", None, None, (
            F("bsm", "str", True, "标识码", "feature id"),
            F("source_code", "str", True, "三调地类编码", "三调 code"),
            F("source_name", "str", False, "三调地类名称", "三调 name"),
            F("reason", "str", True, "需人工核定原因", "why it needs review"),
            F("source_file", "str", False, "来源文件", "source file"),
            F("default_code", "str", False, "暂用用地用海代码（默认）", "用地用海 code carried until decided (default)"),
            F("alternatives", "str", False, "可选用地用海代码", "用地用海 codes to choose from"),
        ), "地类转换待核定清单", "land-code conversion review list"),
    ]
}

TABLE_LAYERS = [name for name, layer in LAYERS.items() if layer.geometry is None]
# what pianqu itself writes into the base workspace: the planner's control-line work done without
# a scenario, and the control lines as imported, kept once before cleaned lines replace them
WORK_LAYERS = ("control_line_status", "conflict", "control_line_change")
IMPORTED_SUFFIX = "_imported"
SPATIAL_LAYERS = [name for name, layer in LAYERS.items() if layer.geometry is not None]

SETTLEMENT_LEVELS = ("county_seat", "town_seat", "village_seat")
TOWNSHIP_KINDS = ("镇", "乡", "街道", "其他")  # 其他: state farms, forestry bureaus, reserves
VILLAGE_CLASSES = ("集聚提升", "城郊融合", "特色保护", "搬迁撤并")
TELECOM_TECHS = ("4G", "5G")


def layer(name: str) -> Layer:
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(f"unknown layer '{name}'; known layers: {', '.join(LAYERS)}") from None
