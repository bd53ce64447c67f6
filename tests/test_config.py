"""Parameters are validated before Spark starts, with clear messages."""

from __future__ import annotations

import datetime as dt
import os

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


def test_output_folder_under_a_file_cannot_be_created(tmp_path):
    (tmp_path / "report.txt").write_text("x")
    out = tmp_path / "report.txt" / "sub" / "out"
    with pytest.raises(ParameterError) as err:
        make_params(tmp_path / "d", out)
    assert str(err.value) == (f"output_dir {out} cannot be created: {tmp_path / 'report.txt'} "
                              "is a file, not a folder; choose another output folder (--output-dir, "
                              "make run OUTPUT_DIR=...)")


def test_output_folder_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(ParameterError, match=r"output_dir .*/out cannot be created: .*/out is a "
                                             r"file, not a folder"):
        make_params(tmp_path / "d", tmp_path / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_output_folder_in_a_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ParameterError, match=r"cannot be created: no permission to create "
                                                 r"folders in .*/locked"):
            make_params(tmp_path / "d", locked / "out")
    finally:
        locked.chmod(0o755)


def test_existing_and_new_output_folders_are_fine(tmp_path):
    (tmp_path / "exists").mkdir()
    assert make_params(tmp_path / "d", tmp_path / "exists").output_dir == tmp_path / "exists"
    assert make_params(tmp_path / "d", tmp_path / "a" / "b").output_dir == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # checking creates nothing


def test_a_notebook_alone_stops_with_the_same_parameter_error(tmp_path):
    from lib.notebook import setup

    (tmp_path / "report.txt").write_text("x")
    with pytest.raises(ParameterError, match="report.txt is a file, not a folder"):
        setup(data_dir=str(tmp_path / "d"), output_dir=str(tmp_path / "report.txt" / "out"))
