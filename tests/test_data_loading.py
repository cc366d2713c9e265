"""Reading CSVs: columns, numbers, time labels and the errors for bad files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstmctl.data.loading import load_csv
from lstmctl.errors import DataError
from lstmctl.spec import DataSpec, validate_spec

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"


def data_spec(path: Path | str, **kw: Any) -> DataSpec:
    return validate_spec({"data": {"path": str(path), **kw}}).data


def write(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_shampoo_labels_kept_as_text() -> None:
    frame, labels = load_csv(data_spec(DATASETS / "shampoo.csv", target="Sales", time="Month"))
    assert list(frame.columns) == ["Sales"]
    assert len(frame) == 36 and frame["Sales"].dtype == np.float64
    assert frame["Sales"].iloc[0] == 266.0
    assert labels[:2] == ["1-01", "1-02"] and labels[-1] == "3-12"
    assert frame.index[0] == 2  # CSV line numbers, header on line 1


def test_airline_dates_parse() -> None:
    frame, labels = load_csv(
        data_spec(DATASETS / "airline-passengers.csv", target="Passengers", time="Month")
    )
    assert len(frame) == 144 and labels[0] == "1949-01"


def test_multi_column_time_and_categorical(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "year,month,day,hour,v,w\n2010,1,1,0,1,NW\n2010,1,1,1,2,SE\n2010,1,1,2,NA,NW\n",
    )
    frame, labels = load_csv(
        data_spec(
            p,
            target="v",
            time=["year", "month", "day", "hour"],
            features=["w"],
            categorical=["w"],
        )
    )
    assert labels == ["2010-01-01 00:00", "2010-01-01 01:00", "2010-01-01 02:00"]
    assert np.isnan(frame["v"].iloc[2])
    assert frame["w"].tolist() == ["NW", "SE", "NW"]


def test_no_time_column_uses_row_numbers(tmp_path: Path) -> None:
    _, labels = load_csv(data_spec(write(tmp_path, "v\n1\n2\n3\n"), target="v"))
    assert labels == ["0", "1", "2"]


def test_unsorted_timestamps_are_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "t,v\n2020-01-02,1\n2020-01-01,2\n2020-01-03,3\n")
    with pytest.raises(DataError) as e:
        load_csv(data_spec(p, target="v", time="t"))
    assert "sort" in e.value.message
    assert e.value.where == f"{p}: column t, line 3"


def test_unparseable_time_text_never_crashes(tmp_path: Path) -> None:
    p = write(tmp_path, "t,v\nfirst,1\nsecond,2\n,3\n")
    frame, labels = load_csv(data_spec(p, target="v", time="t"))
    assert labels == ["first", "second", ""] and len(frame) == 3


def test_missing_file_names_it(tmp_path: Path) -> None:
    p = tmp_path / "nope.csv"
    with pytest.raises(DataError) as e:
        load_csv(data_spec(p, target="v"))
    assert e.value.where == str(p) and "not found" in e.value.message


def test_missing_column_lists_available_and_suggests(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        load_csv(data_spec(DATASETS / "shampoo.csv", target="Sale", time="Month"))
    assert "did you mean 'Sales'?" in e.value.message
    assert "available columns: Month, Sales" in e.value.message
    assert e.value.where.endswith("shampoo.csv: column Sale")
    with pytest.raises(DataError, match="available columns: Month, Sales"):
        load_csv(data_spec(DATASETS / "shampoo.csv", target="Sales", time="Date"))


def test_junk_value_names_line_column_and_value(tmp_path: Path) -> None:
    p = write(tmp_path, "t,v,w\n1,1.0,5\n2,2.0,6\n3,?0.2,7\n4,4.0,8\n")
    with pytest.raises(DataError) as e:
        load_csv(data_spec(p, target="v", features=["w"]))
    assert e.value.where == f"{p}: column v, line 4"
    assert "'?0.2'" in e.value.message and "coerce" in e.value.message


def test_coerce_reads_junk_as_missing(tmp_path: Path) -> None:
    p = write(tmp_path, "t,v\n1,1.0\n2,?0.2\n3,3.0\n")
    frame, _ = load_csv(data_spec(p, target="v", coerce=True))
    assert np.isnan(frame["v"].iloc[1]) and frame["v"].iloc[2] == 3.0


def test_blank_line_keeps_line_numbers(tmp_path: Path) -> None:
    p = write(tmp_path, "v\n1\n\n2\nx\n")
    with pytest.raises(DataError) as e:
        load_csv(data_spec(p, target="v"))
    assert e.value.where.endswith("column v, line 5")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"v,w\n", "found none"),
        (b"v\n1\n\xff\xfe2\n", "UTF-8"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(DataError) as e:
        load_csv(data_spec(p, target="v"))
    assert expected in e.value.message and e.value.where == str(p)


def test_feature_repeating_the_target_is_refused() -> None:
    with pytest.raises(DataError) as e:
        load_csv(data_spec(DATASETS / "shampoo.csv", target="Sales", features=["Sales"]))
    assert e.value.where == "data.features"
