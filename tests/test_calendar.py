"""Season inference from time labels, and cyclic calendar features."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmctl.data.calendar import CALENDAR_FEATURES, calendar_features, infer_season
from lstmctl.data.loading import load_csv
from lstmctl.spec import validate_spec

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
S3 = np.sqrt(3) / 2


def labels(freq: str, periods: int = 30, start: str = "2020-01-01") -> list[str]:
    return [str(t) for t in pd.date_range(start, periods=periods, freq=freq)]


# --------------------------------------------------------------------------- season


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("MS", ("monthly", 12)),
        ("ME", ("monthly", 12)),
        ("QS", ("quarterly", 4)),
        ("QE-DEC", ("quarterly", 4)),
        ("W-SUN", ("weekly", 52)),
        ("W-WED", ("weekly", 52)),
        ("D", ("daily", 7)),
        ("h", ("hourly", 24)),
        ("min", ("minutely", 60)),
        ("YS", ("yearly", None)),
        ("2h", ("2-hourly", 12)),
        ("5D", ("5-daily", None)),
    ],
)
def test_season_of_a_frequency(freq: str, expected: tuple[str, int | None]) -> None:
    assert infer_season(labels(freq)) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["1949-01", "1949-02", "1949-03"], ("monthly", 12)),
        (["2020-01-15", "2020-02-15", "2020-03-15", "2020-04-15"], ("monthly", 12)),
        (["2020-01-31", "2020-02-29", "2020-03-31"], ("monthly", 12)),
        (["2020-01-15", "2020-04-15", "2020-07-15"], ("quarterly", 4)),
        (["01/01/2020", "01/02/2020", "01/03/2020"], ("daily", 7)),
        (["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 02:00"], ("hourly", 24)),
        (["0", "1", "2", "3"], (None, None)),  # row numbers, no time column
        (["a", "b", "c"], (None, None)),
        (["2020-01-01", "2020-01-02"], (None, None)),  # too few to tell
        (["2020-01-01", "2020-01-02", "2020-01-04", "2020-01-05"], (None, None)),  # irregular
        (["2020-01-03", "2020-01-02", "2020-01-01"], (None, None)),  # not increasing
        (["2020-01-01", "2020-01-02", "soon"], (None, None)),
        ([], (None, None)),
    ],
)
def test_season_of_labels(texts: list[str], expected: tuple[str | None, int | None]) -> None:
    assert infer_season(texts) == expected


def test_a_few_missing_rows_keep_the_frequency() -> None:
    days = pd.date_range("2020-01-01", periods=100, freq="D").delete([10, 50])
    assert infer_season([str(d.date()) for d in days]) == ("daily", 7)
    months = pd.date_range("2020-01-01", periods=40, freq="MS").delete([5, 17])
    assert infer_season([str(m.date()) for m in months]) == ("monthly", 12)


@pytest.mark.parametrize(
    ("file", "time", "target"),
    [("airline-passengers.csv", "Month", "Passengers"), ("shampoo.csv", "Month", "Sales")],
)
def test_the_monthly_datasets(file: str, time: str, target: str) -> None:
    data = validate_spec({"data": {"path": str(DATASETS / file), "time": time, "target": target}})
    _, found = load_csv(data.data)
    if file == "shampoo.csv":
        assert found[:2] == ["1-01", "1-02"]  # year 1, month 1: kept as written
    assert infer_season(found) == ("monthly", 12)


def test_daily_min_temperatures_is_daily() -> None:
    # The file lacks two December 31sts; it is still daily.
    dates = pd.read_csv(DATASETS / "daily-min-temperatures.csv", dtype=str).iloc[:, 0]
    assert infer_season(dates.tolist()) == ("daily", 7)


def test_season_is_fast() -> None:
    many = [str(d.date()) for d in pd.date_range("1990-01-01", periods=10_000, freq="D")]
    start = time.perf_counter()
    assert infer_season(many) == ("daily", 7)
    assert time.perf_counter() - start < 0.25  # about 5 ms alone; the suite shares the CPUs


# --------------------------------------------------------------------------- features


def features(stamps: list[str], name: str) -> np.ndarray:
    values, names = calendar_features(pd.DatetimeIndex(stamps), [name])
    assert names == [f"{name}_sin", f"{name}_cos"]
    return values


def test_month_by_hand() -> None:
    got = features(["2021-01-10", "2021-04-10", "2021-07-10", "2021-10-10", "2021-12-10"], "month")
    expected = [[0, 1], [1, 0], [0, -1], [-1, 0], [-0.5, S3]]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_december_is_next_to_january() -> None:
    got = features(["2021-12-01", "2022-01-01", "2022-02-01"], "month")
    dec_jan = np.linalg.norm(got[0] - got[1])
    jan_feb = np.linalg.norm(got[1] - got[2])
    assert dec_jan == pytest.approx(jan_feb)


@pytest.mark.parametrize(
    ("name", "stamps", "expected"),
    [
        # 2024-01-01 is a Monday (0); the Sunday after is one step before the next Monday
        ("dayofweek", ["2024-01-01", "2024-01-07"],
         [[0, 1], [-np.sin(2 * np.pi / 7), np.cos(2 * np.pi / 7)]]),
        ("hour", ["2021-01-01 06:00", "2021-01-01 18:00"], [[1, 0], [-1, 0]]),
        ("minute", ["2021-01-01 06:15", "2021-01-01 06:45"], [[1, 0], [-1, 0]]),
        ("quarter", ["2021-05-01", "2021-11-30"], [[1, 0], [-1, 0]]),
        # the month's own length: February 15th is half way through a 28-day month
        ("dayofmonth", ["2023-02-15", "2023-01-01"], [[0, -1], [0, 1]]),
        # 366 days in 2024: December 31 is one step before January 1
        ("dayofyear", ["2024-12-31", "2025-01-01"],
         [[-np.sin(2 * np.pi / 366), np.cos(2 * np.pi / 366)], [0, 1]]),
        # ISO weeks: 2020 has 53, so its week 53 is one step before week 1
        ("weekofyear", ["2020-12-31", "2021-01-04"],
         [[-np.sin(2 * np.pi / 53), np.cos(2 * np.pi / 53)], [0, 1]]),
    ],
)  # fmt: skip
def test_features_by_hand(name: str, stamps: list[str], expected: list[list[float]]) -> None:
    np.testing.assert_allclose(features(stamps, name), expected, atol=1e-12)


def test_several_features_in_order() -> None:
    times = pd.date_range("2021-01-01", periods=48, freq="h")
    values, names = calendar_features(times, ["hour", "dayofweek"])
    assert names == ["hour_sin", "hour_cos", "dayofweek_sin", "dayofweek_cos"]
    assert values.shape == (48, 4) and values.dtype == np.float64
    np.testing.assert_allclose(values[:, 0] ** 2 + values[:, 1] ** 2, 1.0)
    np.testing.assert_allclose(values[24, :2], values[0, :2])  # the same hour a day later
    assert not np.allclose(values[24, 2:], values[0, 2:])  # on the next day of the week


def test_no_features() -> None:
    values, names = calendar_features(pd.date_range("2021-01-01", periods=3), [])
    assert values.shape == (3, 0) and names == []


def test_every_feature_is_listed() -> None:
    assert CALENDAR_FEATURES == (
        "month", "dayofweek", "dayofyear", "dayofmonth", "weekofyear", "quarter", "hour", "minute",
    )  # fmt: skip
    values, names = calendar_features(pd.date_range("2021-01-01", periods=5), CALENDAR_FEATURES)
    assert values.shape == (5, 16) and len(names) == 16
    assert np.isfinite(values).all()


def test_unknown_and_repeated_names() -> None:
    times = pd.date_range("2021-01-01", periods=3)
    with pytest.raises(ValueError) as info:
        calendar_features(times, ["month", "dayofweak"])
    assert str(info.value) == (
        "expected a calendar feature, found 'dayofweak'; did you mean 'dayofweek'? known: month, "
        "dayofweek, dayofyear, dayofmonth, weekofyear, quarter, hour, minute"
    )
    with pytest.raises(ValueError, match=r"found \['month'\] repeated"):
        calendar_features(times, ["month", "month"])
    with pytest.raises(ValueError, match="expected a list"):
        calendar_features(times, "month")
