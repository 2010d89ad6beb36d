"""The fault corpus, input side (issue 13 item 4): a bad ``pianqu.toml``, a non-regular or empty
input, an output onto the workspace or into a missing folder, a bad scenario name or option.

Each fault runs the command line on a small synthetic county (西区 510403) and must give one
Chinese message naming what was wrong (file, table, key, value, allowed range), exit ≠ 0, no
traceback, and leave every byte of the workspace as it was (sha256 before and after). Faults
that could hang (a FIFO) run in a subprocess with a timeout, the rest through typer's runner.
"""

from __future__ import annotations

import hashlib
import datetime
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pianqu.cli import app
from pianqu.errors import UserFileError, check_input
from pianqu.standards import default_thresholds, threshold_rule
from pianqu.standards.ranges import problem

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A synthetic 西区 workspace and the odd files the faults need, made once."""
    from pianqu.synth import write_county

    d = tmp_path_factory.mktemp("faults")
    ws = write_county("510403", d / "ws.gpkg", seed=1).path
    os.mkfifo(d / "pipe.csv")
    os.mkfifo(d / "pipe.gpkg")
    os.mkfifo(d / "out.csv")
    (d / "folder").mkdir()
    (d / "pipes").mkdir()
    os.mkfifo(d / "pipes" / "DLTB.csv")
    (d / "empty.csv").write_bytes(b"")
    (d / "empty.gpkg").write_bytes(b"")
    (d / "afile.txt").write_text("x", encoding="utf-8")
    (d / "notes.gdb").write_text("not a folder", encoding="utf-8")
    (d / "text.gpkg").write_text("not a geopackage", encoding="utf-8")
    (d / "text.xlsx").write_text("a,b\n1,2\n", encoding="utf-8")
    with zipfile.ZipFile(d / "data.zip", "w") as z:
        z.writestr("readme.txt", "nothing to import")
    shutil.copy(ws, d / "badmeta.gpkg")  # pianqu_meta with a value that is no JSON
    con = sqlite3.connect(d / "badmeta.gpkg")
    with con:
        con.execute("UPDATE pianqu_meta SET value = '[2023, 20' WHERE key = 'epochs'")
    con.close()
    for name in ("cfg_pipe", "cfg_folder"):  # a workspace whose pianqu.toml is a FIFO / a folder
        (d / name).mkdir()
        shutil.copy(ws, d / name / "ws.gpkg")
    os.mkfifo(d / "cfg_pipe" / "pianqu.toml")
    (d / "cfg_folder" / "pianqu.toml").mkdir()
    return {"d": d, "ws": Path(ws)}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _config_ws(place, name: str, body: str) -> Path:
    """A copy of the workspace in its own folder with ``body`` as its pianqu.toml."""
    d = place["d"] / f"cfg_{name}"
    d.mkdir(exist_ok=True)
    shutil.copy(place["ws"], d / "ws.gpkg")
    (d / "pianqu.toml").write_text(body, encoding="utf-8")
    return d / "ws.gpkg"


# (id, the pianqu.toml body, what the zh message must name)
CONFIG_FAULTS = [
    ("unknown_key", '[thresholds]\n"network.walk_sped_kmh" = 4.0\n', ["pianqu.toml", "[thresholds]", "network.walk_sped_kmh",
                                                                    "network.walk_speed_kmh"]),
    ("section_not_a_table", "thresholds = 5\n", ["pianqu.toml", "thresholds", "5"]),
    ("unknown_table", '[threshods]\n"network.walk_speed_kmh" = 4.0\n', ["pianqu.toml", "threshods", "thresholds"]),
    ("unknown_standards_table", "[tables.road_clases]\nvillage = 15\n", ["pianqu.toml", "road_clases", "road_classes"]),
    ("unknown_row", "[tables.road_classes]\nvillag = 15\n", ["pianqu.toml", "villag", "village"]),
    ("speed_true", '[thresholds]\n"network.walk_speed_kmh" = true\n', ["pianqu.toml", "network.walk_speed_kmh", "true",
                                                                      "x > 0", "4.5", "来源"]),
    ("speed_string", '[thresholds]\n"network.walk_speed_kmh" = "fast"\n', ["network.walk_speed_kmh", '"fast"', "x > 0"]),
    ("negative", '[thresholds]\n"validate.overlap_tolerance_m2" = -5.0\n', ["validate.overlap_tolerance_m2", "-5.0",
                                                                           "x ≥ 0", "超出允许范围", "domain.md"]),
    ("nan", '[thresholds]\n"zoning.time_limit_s" = nan\n', ["zoning.time_limit_s", "nan", "x > 0"]),
    ("inf", '[thresholds]\n"network.drive_access_speed_kmh" = inf\n', ["network.drive_access_speed_kmh", "inf"]),
    ("share_over_1", '[thresholds]\n"zoning.enclave_share" = 95\n', ["zoning.enclave_share", "95", "0 ≤ x ≤ 1", "0.95"]),
    ("not_integer", '[thresholds]\n"zoning.members_min" = 2.5\n', ["zoning.members_min", "2.5", "整数"]),
    ("bad_choice", '[thresholds]\n"zoning.member_bounds_mode" = "relaxed"\n', ["zoning.member_bounds_mode", '"relaxed"',
                                                                              "relax"]),
    ("list_item", '[thresholds]\n"network.seat_isochrone_min" = [15, -30]\n', ["network.seat_isochrone_min", "#2"]),
    ("bbox_length", '[thresholds]\n"validate.china_bbox" = [73.0, 3.0]\n', ["validate.china_bbox", "4 项"]),
    ("table_key", '[thresholds]\n"services.pupil_share" = { primary_scool = 0.1 }\n', ["services.pupil_share",
                                                                                      "primary_scool", "primary_school"]),
    ("road_speed_inf", "[tables.road_classes]\nvillage = inf\n", ["[tables.road_classes]", "village", "inf"]),
    ("road_speed_bool", "[tables.road_classes]\nvillage = true\n", ["[tables.road_classes]", "village"]),
]


@pytest.mark.parametrize("case, body, named", CONFIG_FAULTS, ids=[c[0] for c in CONFIG_FAULTS])
def test_bad_config_is_a_message_and_changes_nothing(place, case, body, named):
    ws = _config_ws(place, case, body)
    before = _sha(ws)
    res = runner.invoke(app, ["plan", str(ws), "--scenario", "p1"])
    _refused(res, named)
    assert _sha(ws) == before
    en = runner.invoke(app, ["plan", str(ws), "--scenario", "p1", "--lang", "en"])
    assert en.exit_code == 2 and "Error: " in en.output and "pianqu.toml" in en.output


def _refused(res, named: list[str], code: int = 2) -> None:
    text = res.output.replace("\n", "")
    assert res.exit_code == code, (res.exit_code, res.output, res.exception)
    assert isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output and "错误：" in res.output, res.output
    for piece in named:
        assert piece in text, (piece, res.output)


# (id, arguments given the place, what the zh message must name); every one exits 2
def _cli_faults(p) -> list[tuple]:
    d, ws = p["d"], str(p["ws"])
    return [
        # inputs to `pianqu import`
        ("import_device", ["import", "/dev/null", "-w", str(d / "n1.gpkg")], ["/dev/null", "设备文件"]),
        ("import_folder_as_workspace", ["import", ws, "-w", str(d / "folder")], ["folder", "文件夹"]),
        ("import_empty_csv", ["import", str(d / "empty.csv"), "-w", str(d / "n2.gpkg")], ["empty.csv", "空的"]),
        ("import_empty_gpkg", ["import", str(d / "empty.gpkg"), "-w", str(d / "n3.gpkg")], ["empty.gpkg", "0 字节"]),
        ("import_zip", ["import", str(d / "data.zip"), "-w", str(d / "n4.gpkg")], ["data.zip", "压缩包"]),
        ("import_gdb_file", ["import", str(d / "notes.gdb"), "-w", str(d / "n5.gpkg")], ["notes.gdb", "文件夹"]),
        ("import_into_missing_folder", ["import", ws, "-w", str(d / "nodir" / "n.gpkg")], ["nodir"]),
        ("import_epoch", ["import", ws, "-w", str(d / "n6.gpkg"), "--epoch", "-1"], ["--epoch", "-1", "1949"]),
        ("import_mapping_folder", ["import", ws, "-w", str(d / "n7.gpkg"), "--mapping", str(d / "folder")],
         ["folder", "文件夹"]),
        # outputs: onto the workspace, into a missing folder, onto a folder
        ("validate_gpkg_onto_workspace", ["validate", ws, "--gpkg", ws], ["ws.gpkg", "输入"]),
        ("validate_json_onto_workspace", ["validate", ws, "--json", ws], ["ws.gpkg", "输入"]),
        ("validate_xlsx_missing_folder", ["validate", ws, "--xlsx", str(d / "nodir" / "q.xlsx")], ["nodir"]),
        ("validate_gpkg_missing_folder", ["validate", ws, "--gpkg", str(d / "nodir" / "q.gpkg")], ["nodir"]),
        ("validate_xlsx_onto_folder", ["validate", ws, "--xlsx", str(d / "folder")], ["folder", "文件夹"]),
        ("demo_onto_file", ["demo", "--out", str(d / "afile.txt")], ["afile.txt", "文件夹"]),
        ("synth_province_onto_file", ["synth", "--province", "--counties", "510403", "-o", str(d / "afile.txt")],
         ["afile.txt", "文件夹"]),
        ("travel_onto_workspace", ["travel", ws, "-o", ws], ["ws.gpkg"]),
        ("travel_missing_folder", ["travel", ws, "-o", str(d / "nodir" / "t.csv")], ["nodir"]),
        ("report_onto_workspace", ["report", ws, "-o", ws], ["ws.gpkg"]),
        ("export_onto_workspace", ["export", ws, "-o", ws, "-f", "gpkg"], ["ws.gpkg"]),
        ("landuse_export_onto_workspace", ["landuse", "review", ws, "--export", ws], ["ws.gpkg"]),
        ("zones_out_onto_workspace", ["zones", "move", ws, "1", "2", "--out", ws], ["ws.gpkg"]),
        ("standards_onto_existing", ["standards", "--export", ws], ["ws.gpkg"]),
        # scenario names, checked before any work
        ("plan_bad_scenario", ["plan", ws, "--scenario", "bad name!"], ["bad name!"]),
        ("report_bad_scenario", ["report", ws, "--scenario", "bad name!", "-o", str(d / "r")], ["bad name!"]),
        ("export_bad_scenario", ["export", ws, "-o", str(d / "e.gpkg"), "-f", "gpkg", "-s", "a/b"], ["a/b"]),
        ("lines_bad_scenario", ["lines", "status", ws, "-s", "方案一"], ["方案一"]),
        ("zones_bad_scenario", ["zones", "evaluate", ws, str(d / "afile.txt"), "-s", "a b"], ["a b"]),
        # options out of range
        ("plan_p_zero", ["plan", ws, "-p", "0"], ["-p", "0", "≥ 1"]),
        ("travel_cutoff_negative", ["travel", ws, "--cutoff", "-5", "-o", str(d / "t.csv")], ["--cutoff", "-5"]),
        ("travel_cutoff_nan", ["travel", ws, "--cutoff", "nan", "-o", str(d / "t.csv")], ["--cutoff", "nan"]),
        ("travel_nearest_zero", ["travel", ws, "--nearest", "0", "-o", str(d / "t.csv")], ["--nearest"]),
        ("validate_examples_negative", ["validate", ws, "--examples", "-1"], ["--examples", "-1"]),
        ("synth_parcels", ["synth", "--county", "510403", "--parcels", "-5", "-o", str(d / "s.gpkg")],
         ["--parcels", "-5"]),
        ("config_is_folder", ["validate", str(d / "cfg_folder" / "ws.gpkg")], ["pianqu.toml", "文件夹"]),
        ("synth_unmatched", ["synth", "--county", "510403", "--unmatched", "2", "-o", str(d / "s.gpkg")],
         ["--unmatched", "2"]),
        ("export_unknown_epsg", ["export", ws, "-o", str(d / "e2.gpkg"), "-f", "gpkg", "--crs", "EPSG:99999"],
         ["EPSG:99999"]),
        # division files that are not what their name says
        ("zones_division_not_gpkg", ["zones", "evaluate", ws, str(d / "text.gpkg"), "-s", ""], ["text.gpkg", "无法读取"]),
        ("zones_division_not_xlsx", ["zones", "evaluate", ws, str(d / "text.xlsx"), "-s", ""], ["text.xlsx", "无法读取"]),
        ("landuse_apply_not_xlsx", ["landuse", "review", ws, "--apply", str(d / "text.xlsx")], ["text.xlsx", ".xlsx"], 1),
        ("landuse_apply_folder", ["landuse", "review", ws, "--apply", str(d / "folder")], ["folder", "文件夹"]),
        # workspaces that are not one
        ("workspace_zero_bytes", ["info", str(d / "empty.gpkg")], ["empty.gpkg"]),
        ("workspace_is_folder", ["validate", str(d / "folder")], ["folder"]),
    ]


# Usage errors of the command line (wrong types of arguments, unknown names): one line in the
# user's language, not click's English box. (id, arguments given the workspace, what it names)
USAGE_FAULTS = [
    ("no_such_command", ["plann", "{ws}"], ["plann", "plan"]),
    ("no_such_subcommand", ["zones", "evalute", "{ws}"], ["evalute", "evaluate"]),
    ("unknown_option", ["plan", "{ws}", "--scenari", "x"], ["--scenari", "--scenario"]),
    ("missing_argument", ["validate"], ["pianqu validate", "workspace"]),
    ("not_an_integer", ["plan", "{ws}", "-p", "abc"], ["-p", "abc", "整数"]),
    ("not_a_number", ["travel", "{ws}", "--cutoff", "abc"], ["--cutoff", "abc", "数值"]),
    ("extra_argument", ["plan", "{ws}", "my", "plan"], ["my plan", "引号"]),
    ("switch_with_value", ["plan", "{ws}", "--villages=no"], ["--villages"]),
    ("option_without_value", ["plan", "{ws}", "--scenario"], ["--scenario"]),
    ("unknown_language", ["info", "{ws}", "--lang", "fr"], ["fr", "zh, en"]),
]


@pytest.mark.parametrize("case, args, named", USAGE_FAULTS, ids=[c[0] for c in USAGE_FAULTS])
def test_usage_error_is_one_line_in_the_users_language(place, case, args, named):
    args = [a.format(ws=place["ws"]) for a in args]
    res = runner.invoke(app, args)
    _refused(res, named)
    assert "╭" not in res.output and "Usage:" not in res.output and "Invalid value" not in res.output, res.output
    en = runner.invoke(app, [*args, "--lang", "en"] if case != "unknown_language" else args[:-1] + ["xx"])
    assert en.exit_code == 2 and "╭" not in en.output, en.output
    assert ("Error: " in en.output) == (case != "unknown_language"), en.output  # --lang en read from the line


def _ids():
    return [c[0] for c in _cli_faults({"d": Path("/x"), "ws": Path("/x/ws.gpkg")})]


@pytest.mark.parametrize("case", _ids())
def test_cli_fault_is_a_message_and_changes_nothing(place, case):
    _, args, named, *code = next(c for c in _cli_faults(place) if c[0] == case)
    before = _sha(place["ws"])
    res = runner.invoke(app, args)
    _refused(res, named, *code)  # exit 2 (bad input), 1 where the command refuses a decision file
    assert _sha(place["ws"]) == before
    assert not (place["d"] / "nodir").exists()  # a missing folder for a file is not created


# Faults that would hang a careless reader: a real process with a timeout.
def _pipe_faults(p) -> list[tuple]:
    d, ws = p["d"], str(p["ws"])
    return [
        ("import_fifo", ["import", str(d / "pipe.csv"), "-w", str(d / "f1.gpkg")], ["pipe.csv", "FIFO"]),
        ("import_fifo_gpkg", ["import", str(d / "pipe.gpkg"), "-w", str(d / "f2.gpkg")], ["pipe.gpkg", "FIFO"]),
        ("import_folder_with_fifo", ["import", str(d / "pipes"), "-w", str(d / "f3.gpkg")], ["DLTB.csv", "FIFO"]),
        ("travel_into_fifo", ["travel", ws, "-o", str(d / "out.csv")], ["out.csv", "FIFO"]),
        ("config_fifo", ["travel", str(d / "cfg_pipe" / "ws.gpkg"), "-o", str(d / "t.csv")], ["pianqu.toml", "FIFO"]),
        ("zones_division_fifo", ["zones", "evaluate", ws, str(d / "pipe.csv"), "-s", ""], ["pipe.csv", "FIFO"]),
        ("workspace_fifo", ["info", str(d / "pipe.gpkg")], ["pipe.gpkg", "FIFO"]),
    ]


@pytest.mark.parametrize("case", [c[0] for c in _pipe_faults({"d": Path("/x"), "ws": Path("/x/ws.gpkg")})])
def test_fifo_never_hangs(place, case):
    _, args, named = next(c for c in _pipe_faults(place) if c[0] == case)
    before = _sha(place["ws"])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PIANQU_LANG": "zh"}
    proc = subprocess.run([sys.executable, "-m", "pianqu.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=place["d"])
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "错误：" in proc.stderr, proc.stderr
    for piece in named:
        assert piece in proc.stderr.replace("\n", ""), (piece, proc.stderr)
    assert _sha(place["ws"]) == before


META_COMMANDS = {"info": ["info", "{ws}"], "validate": ["validate", "{ws}"], "report": ["report", "{ws}", "-o", "{d}/r_meta"],
                 "plan": ["plan", "{ws}", "--scenario", "p2"], "lines": ["lines", "status", "{ws}"],
                 "export": ["export", "{ws}", "-o", "{d}/meta_out.gpkg", "-f", "gpkg"]}


@pytest.mark.parametrize("command", list(META_COMMANDS))
def test_corrupt_metadata_is_a_message(place, command):
    ws = place["d"] / "badmeta.gpkg"
    before = _sha(ws)
    res = runner.invoke(app, [a.format(ws=ws, d=place["d"]) for a in META_COMMANDS[command]])
    _refused(res, ["badmeta.gpkg", "pianqu_meta"])
    assert _sha(ws) == before


def test_data_of_another_county_changes_nothing(place):
    """Importing data said to be of another county (`--county`) into a county's workspace."""
    target = place["d"] / "other.gpkg"
    shutil.copy(place["ws"], target)
    before = _sha(target)
    res = runner.invoke(app, ["import", str(place["ws"]), "-w", str(target), "--county", "511921", "--replace"])
    _refused(res, ["other.gpkg", "510403", "511921"])
    assert _sha(target) == before


@pytest.mark.parametrize("args", [["plan", "{ws}", "--scenario", "bad name!"], ["report", "{ws}", "--scenario", "a b"],
                                  ["export", "{ws}", "-o", "{d}/x.gpkg", "-s", "a/b"], ["lines", "status", "{ws}", "-s", "a b"],
                                  ["zones", "evaluate", "{ws}", "{d}/afile.txt", "-s", "a b"],
                                  ["travel", "{ws}", "--cutoff", "-1", "-o", "{d}/t.csv"],
                                  ["validate", "{ws}", "--xlsx", "{d}/nodir/q.xlsx"]])
def test_names_and_outputs_are_checked_before_the_workspace_is_opened(place, monkeypatch, args):
    """No work at all before a bad scenario name, option or output is refused: the workspace is
    never even opened (a plan would otherwise run for minutes and fail at its write)."""
    import pianqu.workspace

    def opened(*a, **k):
        raise AssertionError("the workspace was opened before the check")

    monkeypatch.setattr(pianqu.workspace.Workspace, "open", classmethod(lambda cls, *a, **k: opened()))
    res = runner.invoke(app, [a.format(ws=place["ws"], d=place["d"]) for a in args])
    _refused(res, [])


def test_output_folders_of_results_are_created(place, tmp_path):
    """A result folder (`standards --export DIR`) is made with its parents; nothing else is."""
    out = tmp_path / "a" / "b" / "tables"
    res = runner.invoke(app, ["standards", "--table", "threshold_ranges", "--export", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "threshold_ranges.csv").is_file()


def test_a_results_folder_gets_its_parents_a_file_does_not(tmp_path):
    """`make demo` on a fresh checkout writes into out/demo with no out/ yet (the folder check once
    refused it); a single output file in a missing folder is still refused, naming the folder."""
    from pianqu.errors import UserFileError, check_output

    check_output(tmp_path / "out" / "demo", folder=True)
    assert (tmp_path / "out").is_dir() and not (tmp_path / "out" / "demo").exists()
    with pytest.raises(UserFileError) as err:
        check_output(tmp_path / "nowhere" / "x.xlsx")
    assert "nowhere" in err.value.message("zh") and not (tmp_path / "nowhere").exists()


def test_standards_print_every_table():
    """Tables with blank numbers (NaN) print as blanks (a NaN cell was a rich traceback)."""
    res = runner.invoke(app, ["standards", "--table", "threshold_ranges"])
    assert res.exit_code == 0 and "km/h" in res.output, res.output
    res = runner.invoke(app, ["standards"])
    assert res.exit_code == 0, res.output


def test_unreadable_input_is_named(place, monkeypatch):
    """Root reads everything, so the permission check is seen through ``os.access``."""
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(UserFileError) as err:
        check_input(place["d"] / "afile.txt")
    assert err.value.rule == "common.os.denied" and "afile.txt" in err.value.message("zh")


# -- every threshold has a documented type and range -----------------------------------------

def test_every_threshold_has_a_range_its_default_obeys():
    for th in default_thresholds().values():
        rule = threshold_rule(th)  # KeyError: a unit without a row in threshold_ranges.csv
        assert rule.symbol(), th.key
        assert problem(rule, th.value, th.value) is None, (th.key, th.value, rule)
        if rule.kind in ("number", "integer"):
            assert rule.min is not None, th.key  # every number has at least a lower bound
        if rule.kind == "text" and th.unit == "date":
            datetime.date.fromisoformat(str(th.value))  # a date threshold is a YYYY-MM-DD date
        elif rule.kind == "text" and th.unit not in ("用地用海 codes",):
            assert rule.choices, th.key  # a text threshold lists what it may be


def test_range_edges():
    th = default_thresholds()
    speed = threshold_rule(th["network.walk_speed_kmh"])
    assert problem(speed, 4.5, 0) is not None and problem(speed, 4.5, 1e-9) is None
    assert problem(speed, 4.5, True)[0] == "not_number"
    share = threshold_rule(th["zoning.enclave_share"])
    assert problem(share, 0.95, 1.0) is None and problem(share, 0.95, 1.0000001) is not None
    assert problem(share, 0.95, 0) is None and problem(share, 0.95, -0.0001) is not None
    year = threshold_rule(th["ingest.default_epoch"])
    assert problem(year, 2019, 2019.0) is None and problem(year, 2019, 2019.5)[0] == "not_integer"
    detour = threshold_rule(th["network.detour_index_max"])
    assert problem(detour, 2.0, 0.9) is not None and problem(detour, 2.0, 50.0) is None
