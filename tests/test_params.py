"""Tests of the strict params schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers.errors import ParamsError
from helpers.params import load_params

PARAMS_DIR = Path(__file__).resolve().parents[1] / "params"


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def tiny() -> dict:
    return yaml.safe_load((PARAMS_DIR / "tiny.yaml").read_text())


@pytest.mark.parametrize("name", ["tiny", "demo", "paper"])
def test_shipped_params_are_valid(name):
    params = load_params(PARAMS_DIR / f"{name}.yaml")
    assert params.run_name == name
    assert params.outputs_dir.is_absolute()


def test_paper_is_the_real_configuration():
    params = load_params(PARAMS_DIR / "paper.yaml")
    assert params.world is None
    assert params.grid.resolution == 0.05
    assert (params.period.start_year, params.period.end_year) == (1982, 2021)
    assert params.sampling.stride == 5
    assert len(params.sampling.train_years) == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(colour="blue"), "colour: unknown key"),
        (lambda d: d["grid"].update(resolutoin=1), "grid.resolutoin: unknown key"),
        (lambda d: d["sampling"].update(stride=-5), "sampling.stride: Input should be greater than 0"),
        (lambda d: d["period"].update(start_year=2001, end_year=1999), "end_year (1999) must not be before"),
        (lambda d: d["sampling"].update(split_ratios=[0.7, 0.2, 0.2]), "summing to 1"),
        (lambda d: d["grid"].update(resolution="fine"), "grid.resolution"),
        (lambda d: d.update(seed="42"), "seed: Input should be a valid integer"),
        (lambda d: d["sampling"].update(train_years=[1990]), "outside period"),
        (lambda d: d["world"].update(era5_resolution=3.0), "whole multiple"),
        (lambda d: d["world"].update(era5_resolution=8.0), "must divide 90"),
        (lambda d: d.pop("world"), "data_root is required"),
        (lambda d: d["sampling"].update(split_ratios=[1.0, 0.0, 0.0]), "validation 0.0, test 0.0"),
        (lambda d: d["sampling"].update(split_ratios=[0.9, 0.1, 0.0]), "every split needs locations"),
        (
            lambda d: d["sampling"].update(train_years=[2000, 2000]),
            "sampling.train_years: 2000 given more than once",
        ),
        (lambda d: d["production"].update(years=[2001, 2000, 2001]), "production.years [2001, 2000, 2001]"),
    ],
)
def test_invalid_params_name_the_key(tmp_path, tiny, mutate, message):
    mutate(tiny)
    with pytest.raises(ParamsError) as info:
        load_params(write(tmp_path, tiny))
    assert str(tmp_path / "p.yaml") in str(info.value)
    assert message in str(info.value)


def test_missing_and_non_mapping_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ParamsError, match="mapping"):
        load_params(bad)


def test_params_file_that_is_not_utf8_names_the_file(tmp_path, tiny):
    path = tmp_path / "latin1.yaml"
    tiny["description"] = "Gaußsche Glättung"
    path.write_bytes(yaml.safe_dump(tiny, allow_unicode=True).encode("latin-1"))
    with pytest.raises(ParamsError, match=r"not UTF-8 text \(byte 0x[0-9a-f]{2} at offset \d+\)") as info:
        load_params(path)
    assert str(info.value).startswith(f"{path}: ")


def test_overrides_and_derived_paths(tiny, tmp_path):
    tiny["outputs_dir"] = str(tmp_path / "out")
    params = load_params(write(tmp_path, tiny), run_name="other")
    assert params.run_dir == tmp_path / "out" / "other"
    assert params.raw_dir == params.run_dir / "data" / "raw"
    assert params.truth_dir != params.raw_dir


def test_production_settings_are_checked_and_model_paths_resolved(tmp_path):
    base = Path(__file__).resolve().parents[1] / "params" / "tiny.yaml"
    params = load_params(base, production={"model_path": "models/mine.pt"})
    assert params.production.model_path.is_absolute() and params.production.model_path.name == "mine.pt"
    with pytest.raises(ParamsError, match="export_end 2000-01-01 precedes"):
        load_params(base, production={"export_start": "2000-02-01", "export_end": "2000-01-01"})
    with pytest.raises(ParamsError, match="go together"):
        load_params(base, production={"export_start": "2000-02-01"})
    with pytest.raises(ParamsError, match="lie outside the produced years"):
        load_params(
            base, production={"years": [2001], "export_start": "2000-02-01", "export_end": "2000-02-02"}
        )
    with pytest.raises(ParamsError, match="expected a date"):
        load_params(base, production={"export_start": "July", "export_end": "2000-02-02"})
    with pytest.raises(ParamsError, match=r"production\.device"):
        load_params(base, production={"device": "tpu"})
    with pytest.raises(ParamsError, match="blend_days must be even"):
        load_params(base, production={"blend_days": 31})
    with pytest.raises(ParamsError, match=r"production\.blend_days"):
        load_params(base, production={"blend_days": 62})  # beyond the runs' 60 shared days
    with pytest.raises(ParamsError, match=r"production\.uncertainty"):
        load_params(base, production={"uncertainty": "ensemble"})
    with pytest.raises(ParamsError, match=r"production\.spread_head\.hidden_size"):
        load_params(base, production={"spread_head": {"hidden_size": 0}})


def test_a_params_file_extends_another_section_by_section(tmp_path):
    root = Path(__file__).resolve().parents[1]
    region = load_params(root / "params" / "paper_region.yaml")
    paper = load_params(root / "params" / "paper.yaml")
    assert region.grid.bbox == [5, 45, 15, 55] and region.grid.resolution == paper.grid.resolution
    assert region.sampling.train_years == [2016] and region.sampling.stride == paper.sampling.stride
    assert region.sources == paper.sources and region.data_root == paper.data_root
    assert region.training.num_threads == 2 and region.training.patience == paper.training.patience

    (tmp_path / "a.yaml").write_text("extends: b.yaml\nrun_name: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ParamsError, match="makes a loop"):
        load_params(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(ParamsError, match=r"c\.yaml: extends: params file .*nowhere\.yaml not found"):
        load_params(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text(f"extends: {root / 'params' / 'paper.yaml'}\ngrid: {{bbox: [0, 0, 1]}}\n")
    with pytest.raises(ParamsError, match=r"d\.yaml: invalid params\n  - grid\.bbox"):
        load_params(tmp_path / "d.yaml")


def test_file_patterns_and_encodings_are_checked(tmp_path):
    base = Path(__file__).resolve().parents[1] / "params" / "paper.yaml"
    params = load_params(base, sources={"patterns": {"glass_lst": "LST/{year}/*A{year}{doy}*.hdf"},
                                        "encodings": {"glass_lst": {"scale_factor": 0.01, "fill_value": 0}}})
    assert params.source_pattern("glass_lst") == "LST/{year}/*A{year}{doy}*.hdf"
    assert params.source_pattern("glass_albedo") is None
    assert params.source_encoding("glass_lst")["scale_factor"] == 0.01
    with pytest.raises(ParamsError, match=r"needs a \{year\} placeholder"):
        load_params(base, sources={"patterns": {"glass_lst": "*.hdf"}})
    with pytest.raises(ParamsError, match=r"unknown placeholder \{date\}"):
        load_params(base, sources={"patterns": {"glass_lst": "{date}.hdf"}})
    with pytest.raises(ParamsError, match="unknown product 'modis'"):
        load_params(base, sources={"patterns": {"modis": "*.hdf"}})
    with pytest.raises(ParamsError, match=r"encodings: unknown product"):
        load_params(base, sources={"encodings": {"era5_land": {"scale_factor": 1}}})
