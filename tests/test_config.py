"""Parameters are validated before Spark starts, with clear messages."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.config import make_params
from lib.errors import ParameterError


def test_defaults(tmp_path):
    params = make_params(tmp_path / "d", tmp_path / "o")
    assert params.as_of_date == dt.date.today() and params.season_start_month == 8


@pytest.mark.parametrize("value", ["2023-02-30", "2023-2-3", "yesterday", "20230812", "2023-08-12T00:00"])
def test_bad_as_of_date(tmp_path, value):
    with pytest.raises(ParameterError, match="as_of_date must be a real ISO date"):
        make_params(tmp_path / "d", tmp_path / "o", as_of_date=value)


@pytest.mark.parametrize("value", [0, 13, "x", "8.5", -1])
def test_bad_season_start_month(tmp_path, value):
    with pytest.raises(ParameterError, match="season_start_month must be a whole number 1-12"):
        make_params(tmp_path / "d", tmp_path / "o", season_start_month=value)


@pytest.mark.parametrize("output", ["d", "d/out"])
def test_output_never_inside_data(tmp_path, output):
    with pytest.raises(ParameterError, match="inside data_dir"):
        make_params(tmp_path / "d", tmp_path / output)


def test_relative_paths_come_from_the_base_dir(tmp_path):
    params = make_params("data", "output", base_dir=tmp_path)
    assert params.data_dir == tmp_path / "data" and params.output_dir == tmp_path / "output"
