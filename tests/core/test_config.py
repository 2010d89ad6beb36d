"""pianqu.toml beside a workspace overrides thresholds and road speeds, keeping the source."""

import re

import pytest

from pianqu.config import ConfigError, load_config


def test_defaults_without_file(tmp_path):
    cfg = load_config(tmp_path / "w.gpkg")
    assert cfg["validate.overlap_tolerance_m2"] == 1.0
    assert cfg.road_speeds["village"] == 20.0


def test_override_beside_workspace(tmp_path):
    (tmp_path / "pianqu.toml").write_text(
        '[thresholds]\n"validate.overlap_tolerance_m2" = 5.0\n[road_speeds]\nvillage = 15\n', encoding="utf-8")
    cfg = load_config(tmp_path / "w.gpkg")
    assert cfg["validate.overlap_tolerance_m2"] == 5.0
    assert "pianqu.toml" in cfg.source("validate.overlap_tolerance_m2")
    assert cfg.thresholds["validate.overlap_tolerance_m2"].sureness == "user"
    assert cfg.road_speeds["village"] == 15.0


@pytest.mark.parametrize("body, match", [
    ('[thresholds]\n"no.such" = 1\n', "unknown threshold 'no.such'"),
    ('[thresholds]\n"validate.overlap_tolerance_m2" = "big"\n', "must be a number"),
    ('[road_speeds]\ntractor = 10\n', "'tractor' is not a row of the standards table 'road_classes'"),
    ('[road_speeds]\nvillage = -1\n', "positive"),
    ('[thresholds\n', "not valid TOML"),
    ('[threshold]\n"validate.overlap_tolerance_m2" = 5.0\n', "unknown table \\[threshold\\]"),
])
def test_bad_config_names_file_and_key(tmp_path, body, match):
    (tmp_path / "pianqu.toml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "w.gpkg")
    assert re.search(match, err.value.message("en"))
    assert "pianqu.toml" in str(err.value) and "pianqu.toml" in err.value.message("zh")
