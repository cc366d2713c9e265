"""Reading data files: CSV with a sniffed delimiter, and Parquet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lstmctl.data.loading import load_csv
from lstmctl.data.reading import read_table, sniff_delimiter
from lstmctl.errors import DataError
from lstmctl.spec import DataSpec, validate_spec

ROWS = [("2021-01-01", "1.5", "a"), ("2021-01-02", "2", "b"), ("2021-01-03", "", "a")]


def data_spec(path: Path | str, **kw: Any) -> DataSpec:
    return validate_spec({"data": {"path": str(path), **kw}}).data


def write(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def delimited(tmp_path: Path, sep: str, name: str = "d.csv") -> Path:
    lines = [sep.join(("date", "v", "k")), *(sep.join(r) for r in ROWS)]
    return write(tmp_path, "\n".join(lines) + "\n", name)


def spec_for(path: Path) -> DataSpec:
    return data_spec(path, target="v", time="date", features=["k"], categorical=["k"])


# --------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_read_like_commas(tmp_path: Path, sep: str) -> None:
    expected, expected_labels = load_csv(spec_for(delimited(tmp_path, ",", "comma.csv")))
    frame, labels = load_csv(spec_for(delimited(tmp_path, sep)))
    pd.testing.assert_frame_equal(frame, expected)
    assert labels == expected_labels == ["2021-01-01", "2021-01-02", "2021-01-03"]
    assert frame.index.tolist() == [2, 3, 4] and frame.index.name == "line"


def test_quoted_commas_in_a_semicolon_file(tmp_path: Path) -> None:
    text = 'date;v;k\n2021-01-01;1;"a, b"\n2021-01-02;2;"c; d, e"\n2021-01-03;3;f\n'
    p = write(tmp_path, text)
    assert sniff_delimiter(text) == ";"
    frame, _ = load_csv(spec_for(p))
    assert frame["k"].tolist() == ["a, b", "c; d, e", "f"]
    assert frame["v"].tolist() == [1.0, 2.0, 3.0]


def test_decimal_commas_in_a_semicolon_file(tmp_path: Path) -> None:
    text = "date;v;w\n2021-01-01;1,5;-0,25\n2021-01-02;2;1e3\n2021-01-03;;3,0\n"
    assert sniff_delimiter(text) == ";"  # the header has no comma: "1,5" is not split on it
    frame, _ = load_csv(data_spec(write(tmp_path, text), target="v", features=["w"]))
    np.testing.assert_array_equal(frame["v"], [1.5, 2.0, np.nan])
    np.testing.assert_array_equal(frame["w"], [-0.25, 1000.0, 3.0])


@pytest.mark.parametrize("value", ["1.234,5", "2.5"])
def test_decimal_commas_mixed_with_points_are_an_error(tmp_path: Path, value: str) -> None:
    # Mixed marks (or thousands points) are not guessed: "1.234,5" could be 1.2345 or 1234.5.
    p = write(tmp_path, f"date;v\n2021-01-01;{value}\n2021-01-02;2,5\n")
    found = "'1.234,5'" if value == "1.234,5" else "'2,5'"
    line = 2 if value == "1.234,5" else 3
    with pytest.raises(
        DataError, match=rf"column v, line {line}: expected a number, found {found}"
    ):
        load_csv(data_spec(p, target="v", time="date"))


def test_a_comma_file_keeps_its_errors(tmp_path: Path) -> None:
    # A decimal comma in a comma file is a ragged row, word for word as before sniffing.
    p = write(tmp_path, "date,v\n2021-01-01,1\n2021-01-02,1,5\n")
    with pytest.raises(DataError) as info:
        load_csv(data_spec(p, target="v", time="date"))
    assert str(info.value) == (
        f"{p}: line 3: expected 2 fields as in the header line, found 3; "
        "quote a value that contains a comma"
    )


def test_a_ragged_semicolon_row_names_the_semicolon(tmp_path: Path) -> None:
    p = write(tmp_path, "date;v\n2021-01-01;1\n2021-01-02;1;5\n2021-01-03;2\n")
    with pytest.raises(DataError, match="line 3: .*quote a value that contains a semicolon"):
        load_csv(data_spec(p, target="v", time="date"))


def test_a_semicolon_file_lists_its_real_columns(tmp_path: Path) -> None:
    p = write(tmp_path, "Month;Passengers\n1949-01;112\n1949-02;118\n")
    with pytest.raises(DataError) as info:
        load_csv(data_spec(p, target="Passenger", time="Month"))
    assert str(info.value) == (
        f"{p}: column Passenger: expected a column named 'Passenger', found none; "
        "did you mean 'Passengers'? available columns: Month, Passengers"
    )


@pytest.mark.parametrize(
    ("text", "sep"),
    [
        ("v\n1\n2\n", ","),  # one column: read as before
        ("v\n1,5\n2,5\n", ","),  # one column of decimal commas: check_fields says quote
        ('"a;b",c\n1,2\n', ","),  # a delimiter inside a quoted name
        ('"a,b";c\n1;2\n', ";"),
        ("a\tb,c\n1\t2\n", "\t"),  # a comma in a tab file's name
        ("a|b\n1|2\n", "|"),
        ("", ","),
    ],
)
def test_sniff_delimiter(text: str, sep: str) -> None:
    assert sniff_delimiter(text) == sep


def test_sniffing_looks_at_the_start_only(tmp_path: Path) -> None:
    # A long file: the cut at 64 KiB must not break on a quoted field spanning it.
    rows = "".join(f'2021-01-01;{i};"x\ny"\n' for i in range(20_000))
    assert sniff_delimiter("date;v;k\n" + rows) == ";"


# --------------------------------------------------------------------------- Parquet


def parquet(tmp_path: Path, frame: pd.DataFrame, name: str = "d.parquet") -> Path:
    p = tmp_path / name
    frame.to_parquet(p)
    return p


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.date_range("2021-01-01", periods=4, freq="D"),
            "v": [1.5, 2.0, np.nan, 4.0],
            "k": pd.array([1, 2, None, 1], dtype="Int64"),
            "s": ["a", "b", None, "a"],
        }
    )


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip(tmp_path: Path, suffix: str) -> None:
    p = parquet(tmp_path, sample_frame(), f"d{suffix}")
    frame, labels = load_csv(
        data_spec(p, target="v", time="date", features=["k", "s"], categorical=["k", "s"])
    )
    assert labels == ["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04"]
    assert frame.index.tolist() == [1, 2, 3, 4] and frame.index.name == "row"
    np.testing.assert_array_equal(frame["v"], [1.5, 2.0, np.nan, 4.0])
    assert frame["v"].dtype == np.float64
    # categories as a CSV gives them: the integer 1 is "1", missing is NaN
    assert frame["k"].tolist()[:2] == ["1", "2"] and pd.isna(frame["k"].iloc[2])
    assert frame["s"].tolist()[:2] == ["a", "b"] and pd.isna(frame["s"].iloc[2])


def test_parquet_labels_match_the_csv_ones(tmp_path: Path) -> None:
    hours = pd.DataFrame({"t": pd.date_range("2021-01-01 22:00", periods=3, freq="h"), "v": 1.0})
    _, labels = load_csv(data_spec(parquet(tmp_path, hours), target="v", time="t"))
    assert labels == ["2021-01-01 22:00", "2021-01-01 23:00", "2021-01-02 00:00"]
    csv = write(tmp_path, "t,v\n" + "".join(f"{t},1\n" for t in labels))
    assert load_csv(data_spec(csv, target="v", time="t"))[1] == labels


def test_parquet_with_a_saved_index_keeps_the_time_column(tmp_path: Path) -> None:
    p = parquet(tmp_path, sample_frame().set_index("date"))
    _, labels = load_csv(data_spec(p, target="v", time="date"))
    assert labels[0] == "2021-01-01"


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    df = sample_frame()
    df["s"] = ["1", "2", "x", "4"]
    p = parquet(tmp_path, df)
    with pytest.raises(DataError, match=r"column s, row 3: expected a number, found 'x'"):
        load_csv(data_spec(p, target="s", time="date"))

    df = sample_frame()
    df["date"] = pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-03"])
    p = parquet(tmp_path, df, "dup.parquet")
    with pytest.raises(DataError, match=r"row 4: expected each time once, .* on rows 3 and 4"):
        load_csv(data_spec(p, target="v", time="date"))

    df = sample_frame()
    df["date"] = pd.to_datetime(["2021-01-01", "NaT", "2021-01-03", "2021-01-04"])
    p = parquet(tmp_path, df, "nat.parquet")
    with pytest.raises(DataError, match=r"column date, row 2: expected a time in every row"):
        load_csv(data_spec(p, target="v", time="date"))


def test_a_csv_named_parquet(tmp_path: Path) -> None:
    p = write(tmp_path, "date,v\n2021-01-01,1\n", "d.parquet")
    with pytest.raises(DataError) as info:
        load_csv(data_spec(p, target="v"))
    assert str(info.value).startswith(f"{p}: expected a Parquet file, found other content")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "expected a Parquet file, found an empty file"),
        (lambda p: sample_frame().iloc[:0].to_parquet(p), "expected data rows, found none"),
        (lambda p: p.mkdir(), "expected a Parquet file, found a directory"),
        (lambda p: None, "data file not found"),
    ],
)
def test_empty_and_absent_parquet(tmp_path: Path, make: Any, message: str) -> None:
    p = tmp_path / "d.parquet"
    make(p)
    with pytest.raises(DataError, match=message):
        read_table(str(p))


def test_a_damaged_parquet(tmp_path: Path) -> None:
    good = parquet(tmp_path, sample_frame()).read_bytes()
    p = tmp_path / "cut.parquet"
    p.write_bytes(good[: len(good) // 2] + good[-8:])
    with pytest.raises(DataError, match="expected a Parquet file, found a damaged one"):
        read_table(str(p))


# --------------------------------------------------------------------------- the rest


def test_public_names_stay_in_loading() -> None:
    # `predict --input` and `update --data` import these from loading.
    from lstmctl.data.loading import check_fields, read_text_file, time_labels

    assert check_fields("a,b\n1,2\n", "x") == ["a", "b"]
    assert check_fields("a;b\n1;2\n", "x", ";") == ["a", "b"]
    assert callable(read_text_file) and callable(time_labels)


def test_pyarrow_is_imported_only_for_parquet() -> None:
    # pandas imports pyarrow itself when it is installed; lstmctl must not add to that.
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import lstmctl.cli, lstmctl.data.loading, lstmctl.data.reading\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
