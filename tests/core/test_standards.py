"""Standards as data: code tables, the 三调 mapping, thresholds with their sources."""

import pandas as pd
import pytest

from pianqu import standards as st


def test_landuse_2023_table_examples_from_domain():
    t = st.landuse_codes(2023)
    assert st.landuse_name("0403") == "其他草地"
    assert st.landuse_name("0404") is None  # not a 2023 code
    assert st.landuse_name("0602") == "设施农用地"
    row = t.set_index("code").loc["060201"]
    assert row["parent"] == "0602" and row["level"] == 3
    assert t["code"].is_unique
    # every parent exists and every child's code starts with its parent's
    parents = t[t["parent"] != ""]
    assert parents["parent"].isin(t["code"]).all()
    assert all(c.startswith(p) for c, p in zip(parents["code"], parents["parent"]))
    assert set(t["sureness"]) <= {"read", "recalled", "inferred"}


def test_landuse_2020_differs_where_domain_says():
    t20 = st.landuse_codes(2020).set_index("code")["name"]
    t23 = st.landuse_codes(2023).set_index("code")["name"]
    assert t20["0601"] == "乡村道路用地" and t23["0601"] == "农村道路"
    assert "2302" in t20 and t20["2302"] == "田坎" and t23["2302"] == "后备耕地"
    assert "0205" not in t20 and "0604" in t20
    with pytest.raises(ValueError, match="version"):
        st.landuse_codes(2019)


def test_sandiao_conversion_clean_and_review():
    codes = pd.Series(["1006", "1202", "0702", "0305", "0204", "05H1", "0201K", "9999", None])
    out = st.convert_sandiao(codes)
    assert out["code"].tolist()[:5] == ["0601", "0602", "0703", "0303", "0205"]
    assert out.loc[4, "name"] == "其他园地"
    assert out.loc[5, "code"] == "" and "0901" in out.loc[5, "review"]
    assert out.loc[6, "code"] == "0201" and out.loc[6, "review"] == ""
    assert out.loc[7, "code"] == "" and out.loc[7, "review"] == "unknown 三调 code"
    assert out.loc[8, "review"] == "unknown 三调 code"
    # every clean target is a real 2023 code
    m = st.sandiao_mapping()
    targets = m.loc[m["target"] != "", "target"]
    assert targets.isin(st.landuse_codes(2023)["code"]).all()


def test_area_units_mu():
    u = st.area_units().set_index("unit")["m2"]
    assert 666.6667 / u["mu"] == pytest.approx(1.0, abs=1e-7)
    assert u["ha"] == 10_000 and u["km2"] == 1_000_000


def test_facility_kinds_and_roads_are_controlled_lists():
    fk = st.facility_kinds()
    assert fk["kind"].is_unique and set(fk["level"]) == {"zone", "township", "village"}
    # the policy's three-level elderly/children rule is expressible
    for kind in ("regional_elderly_centre", "elderly_daycare", "minor_protection_station",
                 "village_elderly_facility", "minor_protection_point", "children_home"):
        assert kind in set(fk["kind"])
    rc = st.road_classes()
    assert rc.sort_values("rank")["speed_kmh"].is_monotonic_decreasing


def test_every_threshold_has_source_and_sureness():
    th = st.default_thresholds()
    assert th["land.reserve_quota_max_share"].value == 0.05
    for t in th.values():
        assert t.source and t.sureness in {"read", "recalled", "inferred"} and t.unit, t.key


def test_catalogue_tables_all_present():
    cat = st.catalogue()
    assert {"landuse_2023", "sandiao_mapping", "facility_kinds", "road_classes", "thresholds"} <= set(cat)
    assert all(len(df) for df in cat.values())


# -- one loader, one catalogue (issue 12 §4) ---------------------------------------------------------
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import pianqu  # noqa: E402
from pianqu.config import ConfigError, load_config  # noqa: E402

PKG = Path(pianqu.__file__).parent
SURENESS = {"read", "recalled", "inferred"}
# CSV files under src/pianqu that are not standards, each with the reason; any other CSV must be
# a table of the catalogue, so no table hides in a package folder.
NOT_STANDARDS = {
    "data/sichuan_counties.csv": "NBS administrative division list (pianqu.divisions; data/SOURCES.md)",
    "data/sichuan_cities.csv": "NBS administrative division list (pianqu.divisions; data/SOURCES.md)",
    "synth/county_geo.csv": "the synthesiser's generator input (areas, elevations), not read by analyses",
}


def test_every_catalogue_table_loads_with_sureness_source_and_unique_key():
    cat = st.catalogue()
    assert set(cat) == set(st.TABLES) | {"thresholds"}
    for name, df in cat.items():
        assert len(df), name
        assert {"sureness", "source"} <= set(df.columns), name
        assert (df["source"].astype(str).str.strip() != "").all(), name
        assert set(df["sureness"]) <= SURENESS, (name, set(df["sureness"]) - SURENESS)
        if name != "thresholds":
            spec = st.TABLES[name]
            assert not st.key_of(df, spec).duplicated().any(), (name, spec.key)
            for col, kind in spec.dtypes.items():  # the dtype rules are applied by the one loader
                assert df[col].dtype == {"int": "int64", "float": "float64", "bool": "bool"}[kind], (name, col)


def test_every_csv_in_the_package_is_in_the_catalogue():
    files = {p.relative_to(PKG).as_posix() for p in PKG.rglob("*.csv")}
    catalogued = {f"standards/{spec.file}" for spec in st.TABLES.values()}
    assert catalogued <= files  # every declared table is shipped
    assert files - catalogued == set(NOT_STANDARDS), files - catalogued - set(NOT_STANDARDS)


def test_cli_lists_and_exports_every_table(tmp_path):
    from typer.testing import CliRunner

    from pianqu.cli import app

    res = CliRunner().invoke(app, ["standards", "--table", "policy_codes", "--lang", "en"])
    assert res.exit_code == 0 and "built_up_czcsxm" in res.output
    out = tmp_path / "standards.xlsx"
    res = CliRunner().invoke(app, ["standards", "--export", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    sheets = pd.read_excel(out, sheet_name=None, dtype=str)
    assert set(sheets) == set(st.catalogue())
    assert sheets["county_centres"].set_index("code").loc["511921", "name"] == "通江县"


def test_table_override_takes_effect_and_is_recorded(tmp_path):
    from pianqu.network.graph import build_graph
    from pianqu.services.coverage import coverage_standards
    from pianqu.testing.network import grid_roads

    toml = tmp_path / "pianqu.toml"
    toml.write_text('[tables.road_classes]\ncounty = 80\n'
                    '[tables.coverage_standards]\nfire = 12\n"children_home.mountain" = { value = 3000 }\n'
                    '"children_home.hill" = 2500\n', encoding="utf-8")
    cfg = load_config(tmp_path / "w.gpkg")
    # road speed: the graph's edge times use it
    g = build_graph(grid_roads(2, 2), config=cfg)
    assert g.edges["time_drive_s"].iat[0] == pytest.approx(1000 / (80 / 3.6))
    row = cfg.table("road_classes").set_index("class").loc["county"]
    assert row["speed_kmh"] == 80.0 and row["sureness"] == "user"
    assert str(toml) in row["source"] and "[tables.road_classes]" in row["source"] and "default 40.0" in row["source"]
    # coverage standards: a whole service, one terrain row, a terrain row the table lacks (copied from *)
    std = coverage_standards(cfg).set_index(["service", "terrain"])
    shipped = st.table("coverage_standards").set_index(["service", "terrain"])
    assert (std.xs("fire", level="service")["value"] == 12.0).all()
    assert std.loc[("children_home", "mountain"), "value"] == 3000.0
    assert std.loc[("children_home", "hill"), "value"] == 2500.0 and ("children_home", "hill") not in shipped.index
    assert std.loc[("children_home", "hill"), "sureness"] == "user"
    assert "[tables.coverage_standards] children_home.hill.value" in std.loc[("children_home", "hill"), "source"]
    # untouched rows keep the shipped values and sources
    assert std.loc[("children_home", "*"), "sureness"] != "user"
    assert load_config(tmp_path / "none.gpkg", path=tmp_path / "absent.toml").road_speeds["county"] == 40.0


def test_full_key_wins_over_a_service_wide_override(tmp_path):
    toml = tmp_path / "pianqu.toml"
    toml.write_text('[tables.coverage_standards]\n"fire.mountain" = 20\nfire = 12\n', encoding="utf-8")
    t = load_config(path=toml).table("coverage_standards").set_index(["service", "terrain"])
    assert float(t.loc[("fire", "mountain"), "value"]) == 20.0 and float(t.loc[("fire", "*"), "value"]) == 12.0


def test_old_section_names_are_read_as_tables_with_a_finding(tmp_path):
    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    old.write_text('[road_speeds]\nvillage = 15\n[coverage_standards]\nfire = 12\n', encoding="utf-8")
    new.write_text('[tables.road_classes]\nvillage = 15\n[tables.coverage_standards]\nfire = 12\n', encoding="utf-8")
    a, b = load_config(path=old), load_config(path=new)
    assert a.road_speeds == b.road_speeds and a.road_speeds["village"] == 15.0
    for name in ("road_classes", "coverage_standards"):
        cols = [c for c in st.TABLES[name].key + ("value", "speed_kmh") if c in a.table(name).columns]
        pd.testing.assert_frame_equal(a.table(name)[cols], b.table(name)[cols])
    assert [f.params["old"] for f in a.findings] == ["road_speeds", "coverage_standards"] and not b.findings
    assert all(f.severity == "info" and f.rule == "common.config.deprecated_section" for f in a.findings)
    assert "[tables.road_classes]" in a.findings[0].message("en") and "[tables.road_classes]" in a.findings[0].message("zh")
    assert "[road_speeds]" in a.table("road_classes").set_index("class").loc["village", "source"]


@pytest.mark.parametrize("body, code, match", [
    ('[tables.no_such]\nx = 1\n', "unknown_table", "no standards table 'no_such'"),
    ('[tables.facility_kinds]\nschool = 1\n', "table_not_overridable", "cannot be changed"),
    ('[tables.road_classes]\ntractor = 10\n', "unknown_row", "'tractor' is not a row of the standards table 'road_classes'"),
    ('[tables.road_classes]\nvillage = { lanes = 4 }\n', "unknown_column", "column 'lanes' cannot be set"),
    ('[tables.road_classes]\nvillage = -1\n', "bad_value", "positive"),
    ('[tables.road_classes]\nvillage = "fast"\n', "bad_value", "positive"),
    ('[road_speeds]\ntractor = 10\n', "unknown_row", r"\[road_speeds\]: 'tractor'"),
    ('[tables.coverage_standards]\n"fire.moon" = 5\n', "bad_key_part", "unknown terrain 'moon'"),
    ('[tables.coverage_standards]\nsauna = 5\n', "unknown_row", "'sauna' is not a row"),
])
def test_bad_table_override_names_file_row_and_column(tmp_path, body, code, match):
    (tmp_path / "pianqu.toml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "w.gpkg")
    assert err.value.rule == f"common.config.{code}"
    assert re.search(match, err.value.message("en")), err.value.message("en")
    assert "pianqu.toml" in err.value.message("zh")


def test_synth_knobs_are_not_planning_thresholds(tmp_path):
    from pianqu.synth import default_knobs, synth_config

    planning = st.default_thresholds()
    knobs = default_knobs()
    assert len(knobs) >= 40 and all(k.startswith("synth.") for k in knobs)
    assert not any(k.startswith("synth.") for k in planning)
    assert "synth.employment_rate" not in st.catalogue()["thresholds"]["key"].tolist()
    for k in knobs.values():
        assert k.source and k.sureness in SURENESS and k.unit and k.description, k.key
    with pytest.raises(ConfigError):  # not a planning threshold
        load_config(overrides={"synth.employment_rate": 0.5})
    # the synthesiser still reads them, and a pianqu.toml [synth] changes them with its source
    (tmp_path / "pianqu.toml").write_text('[synth]\n"synth.employment_rate" = 0.5\ncontrol_conflicts = 3\n',
                                         encoding="utf-8")
    cfg = synth_config(load_config(tmp_path / "w.gpkg"))
    assert cfg["synth.employment_rate"] == 0.5 and cfg["synth.control_conflicts"] == 3
    assert cfg.thresholds["synth.employment_rate"].sureness == "user" and "[synth]" in cfg.source("synth.employment_rate")
    assert synth_config()["synth.employment_rate"] == knobs["synth.employment_rate"].value
    assert synth_config(cfg) is not None and synth_config(cfg)["synth.employment_rate"] == 0.5  # idempotent


def _src_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in PKG.rglob("*.py")) + "\n" + "\n".join(
        p.read_text(encoding="utf-8") for p in (PKG / "standards").glob("*.csv"))


def test_every_planning_threshold_is_read_somewhere():
    """A threshold no code reads is a promise nobody keeps: every key appears in the source (as a
    literal, an f-string pattern such as ``land.quota_{ind}_keep_share`` or a ``=key`` row)."""
    text = _src_text()
    patterns = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(f)) + "$")
                for f in re.findall(r'f"([a-z_]+\.[a-z_{}]+)"', text) if "{" in f]
    unread = [k for k in st.default_thresholds() if k not in text and not any(p.match(k) for p in patterns)]
    assert unread == []


def test_policy_constants_are_table_rows():
    assert st.policy_codes("centre_candidate_kind") == ["镇", "街道"]
    assert st.policy_codes("built_up_czcsxm") == ["201", "202"]
    # the built-up codes are the town settlement codes of the 城镇村属性码 table
    cz = st.czcsxm_codes()
    assert set(cz.loc[cz["settlement"] == "town", "code"].str[:3]) == set(st.policy_codes("built_up_czcsxm"))
    assert st.mu_per_m2() == pytest.approx(15 / 10_000, rel=1e-12)
    assert "area.mu_per_m2" not in st.default_thresholds()
    # no literal copies left in the library outside the synthesiser's generator
    lib = "\n".join(p.read_text(encoding="utf-8") for p in PKG.rglob("*.py") if "synth" not in p.parts)
    for literal in ('["201", "202"]', '["镇", "街道"]', "0.0015", "666.66"):
        assert literal not in lib, literal


def test_county_centres_for_production_are_not_the_synthesisers_table():
    from pianqu.ingest.crs import county_zones

    c = st.table("county_centres").set_index("code")
    assert len(c) == 183 and set(c["terrain"]) <= set(st.TERRAINS)
    assert st.county_centre("511921")["terrain"] == "mountain"
    assert st.county_centre("999999") is None and county_zones("999999") == ()
    # the county's zone follows from its centre: 通江县 at 107.25°E is in the 108°E zone (EPSG:4545)
    assert county_zones("511921") == (4545,)
