"""Metrics windows, the workload model, capacity history and inter-cluster throughput (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from openovc.domain.errors import InvalidParameter, OmniStackError, TypeMismatch
from openovc.domain.metrics import (
    CAPACITY_METRICS,
    ClusterLabel,
    GiB,
    Performance,
    RemoteSend,
    Resolution,
    VmWorkload,
    Window,
    capacity_document,
    legacy_entry,
    metrics_document,
    parse_capacity_fields,
    parse_window,
    throughput,
    throughput_entry,
)
from openovc.simulator.metrics import performance, profile

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)  # a Friday
ON = VmWorkload("vm-web-01", 80 * GiB, True)
VMS = [VmWorkload(f"vm-{i:02d}", (40 + 20 * i) * GiB, True) for i in range(6)]


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def window(now: datetime = NOW, **params: str) -> Window:
    return parse_window(params, now)


# ---- parameters -------------------------------------------------------------------------------


def test_defaults() -> None:
    w = window()
    assert (w.end, w.range, w.resolution) == (NOW, 43_200, Resolution.MINUTE)
    assert w.start == NOW - timedelta(hours=12)


def test_empty_values_mean_defaults() -> None:
    assert window(time_offset="", range=" ", resolution="") == window()


@pytest.mark.parametrize("raw", ["second", "Second", "SECOND", " second "])
def test_resolution_any_case(raw: str) -> None:
    assert window(resolution=raw).resolution is Resolution.SECOND


def test_time_offset_in_seconds() -> None:
    assert window(time_offset="3600").end == NOW - timedelta(hours=1)
    assert window(time_offset="0").end == NOW


@pytest.mark.parametrize(
    ("raw", "end"),
    [
        ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00+02:00", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("2026-11-19", datetime(2026, 11, 19, tzinfo=UTC)),
        ("2030-01-01T00:00:00Z", NOW),  # no sample exists after now
    ],
)
def test_time_offset_as_a_date(raw: str, end: datetime) -> None:
    assert window(time_offset=raw).end == end


def test_fixed_resolution_ignores_the_parameter() -> None:
    w = parse_window({"resolution": "bogus", "range": "600"}, NOW, Resolution.MINUTE)
    assert w.resolution is Resolution.MINUTE and w.range == 600


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"resolution": "WEEK"}, InvalidParameter,
         "Invalid value 'WEEK' for parameter 'resolution': expected one of SECOND, MINUTE, HOUR, DAY"),
        ({"range": "abc"}, TypeMismatch, "Invalid value 'abc' for parameter 'range': expected an integer"),
        ({"range": "1.5"}, TypeMismatch, "Invalid value '1.5' for parameter 'range': expected an integer"),
        ({"range": "0"}, InvalidParameter, "Invalid value '0' for parameter 'range': must be at least 1"),
        ({"range": "-60"}, InvalidParameter, "Invalid value '-60' for parameter 'range': must be at least 1"),
        ({"range": "43201", "resolution": "SECOND"}, InvalidParameter,
         "Invalid value '43201' for parameter 'range': must be at most 43200 seconds at resolution SECOND"),
        ({"range": "604801"}, InvalidParameter,
         "Invalid value '604801' for parameter 'range': must be at most 604800 seconds at resolution MINUTE"),
        ({"range": "5184001", "resolution": "hour"}, InvalidParameter,
         "Invalid value '5184001' for parameter 'range': must be at most 5184000 seconds at resolution HOUR"),
        ({"range": "94608001", "resolution": "day"}, InvalidParameter,
         "Invalid value '94608001' for parameter 'range': must be at most 94608000 seconds at resolution DAY"),
        ({"time_offset": "-1"}, InvalidParameter,
         "Invalid value '-1' for parameter 'time_offset': must be at least 0"),
        ({"time_offset": "yesterday"}, InvalidParameter,
         "Invalid value 'yesterday' for parameter 'time_offset': "
         "expected seconds before now or an ISO-8601 date and time"),
        ({"time_offset": "99999999999"}, InvalidParameter,
         "Invalid value '99999999999' for parameter 'time_offset': must not reach before 1970-01-01T00:00:00Z"),
        ({"time_offset": "1969-12-31T00:00:00Z"}, InvalidParameter,
         "Invalid value '1969-12-31T00:00:00Z' for parameter 'time_offset': "
         "must not be before 1970-01-01T00:00:00Z"),
    ],
)  # fmt: skip
def test_bad_values(params: dict[str, str], error: type[OmniStackError], message: str) -> None:
    with pytest.raises(error) as caught:
        parse_window(params, NOW)
    assert type(caught.value) is error
    assert caught.value.message == message


@pytest.mark.parametrize("resolution", list(Resolution))
def test_range_limits_are_inclusive(resolution: Resolution) -> None:
    w = window(range=str(resolution.max_range), resolution=resolution.name)
    assert w.range == resolution.max_range
    assert len(w.dates()) == resolution.max_range // resolution.step


# ---- dates ------------------------------------------------------------------------------------


def test_second_resolution_matches_the_documented_example() -> None:
    # DP: range=10&resolution=SECOND gave points at …:11:20Z and …:11:25Z.
    now = datetime(2016, 9, 8, 16, 11, 27, tzinfo=UTC)
    assert window(now, range="10", resolution="SECOND").dates() == [
        ts("2016-09-08T16:11:20Z"),
        ts("2016-09-08T16:11:25Z"),
    ]


@pytest.mark.parametrize(
    ("resolution", "step"), [("SECOND", 5), ("MINUTE", 60), ("HOUR", 3_600), ("DAY", 86_400)]
)
def test_dates_are_aligned_ascending_and_end_at_the_window_end(resolution: str, step: int) -> None:
    now = datetime(2026, 11, 20, 12, 34, 56, tzinfo=UTC)
    w = window(now, range=str(step * 30), resolution=resolution)
    dates = w.dates()
    assert len(dates) == 30
    assert all(d % step == 0 for d in dates)
    assert all(b - a == step for a, b in pairwise(dates))
    end = int(now.timestamp())
    assert dates[-1] == end - end % step
    assert dates[0] > end - w.range


def test_default_window_has_720_whole_minutes() -> None:
    dates = window().dates()
    assert len(dates) == 720
    assert dates[-1] == ts("2026-11-20T12:00:00Z") and dates[0] == ts("2026-11-20T00:01:00Z")


def test_a_range_shorter_than_a_step_still_has_the_last_point() -> None:
    now = datetime(2026, 11, 20, 12, 34, 56, tzinfo=UTC)
    assert window(now, range="30", resolution="HOUR").dates() == [ts("2026-11-20T12:00:00Z")]


# ---- workload ---------------------------------------------------------------------------------


def test_deterministic() -> None:
    w = window(range="3600")
    assert performance(VMS, w) == performance(list(VMS), w)
    assert profile(ON) == profile(VmWorkload(ON.id, ON.size, True))


def test_a_date_has_the_same_values_whatever_the_window() -> None:
    wide = performance([ON], window(range="7200"))
    narrow = performance([ON], window(time_offset="600", range="1200"))
    at = {d: i for i, d in enumerate(wide.dates)}
    for i, d in enumerate(narrow.dates):
        j = at[d]
        assert (narrow.reads[i], narrow.writes[i], narrow.read_latency[i]) == (
            wide.reads[j],
            wide.writes[j],
            wide.read_latency[j],
        )


def test_vms_differ_and_vary_over_time() -> None:
    w = window(range="3600")
    a, b = performance([VMS[0]], w), performance([VMS[1]], w)
    assert a.reads != b.reads
    assert len(set(a.reads)) > 5


def test_powered_off_vm_does_nothing() -> None:
    perf = performance([VmWorkload("vm-off", 100 * GiB, False)], window(range="3600"))
    assert len(perf.dates) == 60
    for series in (perf.reads, perf.writes, perf.read_bytes, perf.write_bytes):
        assert set(series) == {0}
    assert set(perf.read_latency) == set(perf.write_latency) == {0}


def test_vm_does_io_only_while_it_exists() -> None:
    w = window(range="3600")
    created, deleted = ts("2026-11-20T11:20:00Z"), ts("2026-11-20T11:40:00Z")
    perf = performance([VmWorkload("vm-short", 100 * GiB, True, created, deleted)], w)
    for d, r, lat in zip(perf.dates, perf.reads, perf.read_latency, strict=True):
        if created <= d < deleted:
            assert r > 0 and lat > 0
        else:
            assert r == 0 and lat == 0


def _weighted(values: list[list[int]], weights: list[list[int]], j: int) -> int:
    total = sum(w[j] for w in weights)
    if total == 0:
        return 0
    return (2 * sum(v[j] * w[j] for v, w in zip(values, weights, strict=True)) + total) // (2 * total)


@pytest.mark.parametrize("resolution", ["SECOND", "MINUTE", "HOUR", "DAY"])
def test_host_is_the_sum_of_its_vms(resolution: str) -> None:
    vms = [*VMS, VmWorkload("vm-off", 60 * GiB, False)]
    w = window(range=str(Resolution[resolution].step * 40), resolution=resolution)
    tz = ZoneInfo("America/New_York")
    host = performance(vms, w, tz)
    each = [performance([vm], w, tz) for vm in vms]
    for name in ("reads", "writes", "read_bytes", "write_bytes"):
        assert getattr(host, name) == [
            sum(col) for col in zip(*(getattr(p, name) for p in each), strict=True)
        ]
    for j in range(len(host.dates)):
        assert host.read_latency[j] == _weighted([p.read_latency for p in each], [p.reads for p in each], j)
        assert host.write_latency[j] == _weighted(
            [p.write_latency for p in each], [p.writes for p in each], j
        )


def test_throughput_is_iops_times_a_block_size() -> None:
    perf = performance([ON], window(range="600"))
    blocks = {rb // r for rb, r in zip(perf.read_bytes, perf.reads, strict=True) if r}
    assert len(blocks) == 1 and blocks <= {4_096, 8_192, 16_384, 32_768, 65_536}
    assert all(rb % r == 0 for rb, r in zip(perf.read_bytes, perf.reads, strict=True) if r)


def test_latency_is_in_microseconds_and_rises_with_load() -> None:
    perf = performance([ON], window(range="43200", resolution="SECOND"))
    busiest = max(range(len(perf.reads)), key=perf.reads.__getitem__)
    idlest = min(range(len(perf.reads)), key=perf.reads.__getitem__)
    assert perf.read_latency[busiest] > perf.read_latency[idlest]
    assert all(100 <= lat <= 3_000 for lat in perf.read_latency + perf.write_latency)


def test_busier_in_working_hours_than_at_night() -> None:
    # Wednesday 2026-11-18 in New York: 13:00 local is 18:00Z, 01:00 local is 06:00Z.
    end = datetime(2026, 11, 19, 5, 0, tzinfo=UTC)
    w = window(end + timedelta(seconds=1), range="86400", resolution="HOUR")
    perf = performance(VMS, w, ZoneInfo("America/New_York"))
    by_hour = dict(zip(perf.dates, perf.reads, strict=True))
    assert by_hour[ts("2026-11-18T18:00:00Z")] > 2 * by_hour[ts("2026-11-18T06:00:00Z")]


def test_the_cycle_follows_the_cluster_time_zone() -> None:
    w = window(datetime(2026, 11, 18, 23, 59, tzinfo=UTC), range="86400", resolution="HOUR")

    def peak(zone: str) -> int:
        perf = performance(VMS, w, ZoneInfo(zone))
        return perf.dates[max(range(len(perf.dates)), key=perf.reads.__getitem__)]

    assert peak("America/New_York") != peak("Asia/Tokyo")


def test_quieter_at_weekends() -> None:
    friday = performance(
        VMS, window(datetime(2026, 11, 20, 23, 59, tzinfo=UTC), range="86400", resolution="DAY")
    )
    sunday = performance(
        VMS, window(datetime(2026, 11, 22, 23, 59, tzinfo=UTC), range="86400", resolution="DAY")
    )
    assert sunday.reads[0] < friday.reads[0]


def test_bigger_vms_tend_to_do_more_io() -> None:
    w = window(range="3600")
    small = sum(sum(performance([VmWorkload(f"s{i}", 20 * GiB, True)], w).reads) for i in range(20))
    big = sum(sum(performance([VmWorkload(f"b{i}", 1_000 * GiB, True)], w).reads) for i in range(20))
    assert big > 5 * small


def test_metrics_document_shape() -> None:
    perf = performance([ON], window(range="120"))
    doc = metrics_document(perf)
    assert list(doc) == ["metrics"]
    metrics = doc["metrics"]
    assert isinstance(metrics, list)
    assert [m["name"] for m in metrics] == ["iops", "throughput", "latency"]
    dates = [[p["date"] for p in m["data_points"]] for m in metrics]
    assert dates[0] == dates[1] == dates[2] == ["2026-11-20T11:59:00Z", "2026-11-20T12:00:00Z"]
    for m in metrics:
        for point in m["data_points"]:
            assert list(point) == ["reads", "writes", "date"]
            assert isinstance(point["reads"], int) and isinstance(point["writes"], int)


def test_empty_performance_document() -> None:
    doc = metrics_document(Performance(dates=[]))
    assert doc == {"metrics": [{"name": n, "data_points": []} for n in ("iops", "throughput", "latency")]}


# ---- capacity ---------------------------------------------------------------------------------


def test_capacity_fields_default_to_all_thirteen_in_the_spec_order() -> None:
    assert parse_capacity_fields(None) == parse_capacity_fields(" ") == CAPACITY_METRICS
    assert len(CAPACITY_METRICS) == 13
    assert CAPACITY_METRICS[0] == "stored_compressed_data" and CAPACITY_METRICS[-1] == "allocated_capacity"


def test_capacity_fields_picks_a_subset_in_canonical_order() -> None:
    assert parse_capacity_fields("free_space, compression_ratio,free_space") == (
        "compression_ratio",
        "free_space",
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("free_space,bogus", "Invalid value for parameter 'fields': bogus is not a capacity metric"),
        ("zeta,alpha", "Invalid value for parameter 'fields': alpha, zeta are not capacity metrics"),
    ],
)
def test_unknown_capacity_fields(raw: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_capacity_fields(raw)
    assert caught.value.message == message


def test_capacity_history_repeats_the_current_values() -> None:
    host = {"free_space": 5_170_371_316_326, "compression_ratio": 1.86, "used_capacity": None}
    dates = window(range="180").dates()
    doc = capacity_document(
        host, ("compression_ratio", "free_space", "used_capacity", "efficiency_ratio"), dates
    )
    metrics = doc["metrics"]
    assert isinstance(metrics, list)
    assert [m["name"] for m in metrics] == [
        "compression_ratio",
        "free_space",
        "used_capacity",
        "efficiency_ratio",
    ]
    values = {m["name"]: [p["value"] for p in m["data_points"]] for m in metrics}
    assert values == {
        "compression_ratio": [1.86] * 3,
        "free_space": [5_170_371_316_326] * 3,
        "used_capacity": [0] * 3,
        "efficiency_ratio": [1.0] * 3,
    }
    assert isinstance(values["compression_ratio"][0], float) and isinstance(values["free_space"][0], int)
    assert [p["date"] for p in metrics[0]["data_points"]] == [
        "2026-11-20T11:58:00Z",
        "2026-11-20T11:59:00Z",
        "2026-11-20T12:00:00Z",
    ]


# ---- throughput -------------------------------------------------------------------------------

BOSTON = ClusterLabel("c-bos", "Boston", "datacenter-4", "DC-Boston")
SYDNEY = ClusterLabel("c-syd", "Sydney", "datacenter-28", "DC-Sydney")


def send(sent: int, duration: int, completed: str) -> RemoteSend:
    return RemoteSend("c-bos", "c-syd", sent, duration, ts(completed))


def test_a_send_is_spread_over_its_duration() -> None:
    dates = window(range="300").dates()  # 11:56 .. 12:00
    assert throughput([send(6_000, 60, "2026-11-20T11:58:00Z")], dates) == [0, 100, 0, 0, 0]
    # 90 s ending at 11:59:30: 60 s in the 11:58 minute, 30 s in the 11:59 one.
    assert throughput([send(9_000, 90, "2026-11-20T11:59:30Z")], dates) == [0, 0, 100, 50, 0]
    # Sends add up; zero-length sends count as one second.
    both = [send(6_000, 60, "2026-11-20T11:58:00Z"), send(600, 0, "2026-11-20T11:57:10Z")]
    assert throughput(both, dates) == [0, 110, 0, 0, 0]


def test_sends_outside_the_window_do_not_count() -> None:
    dates = window(range="300").dates()
    far = [send(6_000, 60, "2026-11-20T11:00:00Z"), send(6_000, 60, "2026-11-20T12:05:00Z")]
    assert throughput(far, dates) == [0] * 5
    assert throughput([], []) == []


def test_throughput_entry() -> None:
    w = window(range="180")
    dates = w.dates()
    entry = throughput_entry(BOSTON, SYDNEY, w, dates, [300, 100, 300])
    assert entry == {
        "date": "2026-11-20T12:00:00Z",
        "source_omnistack_cluster_id": "c-bos",
        "source_omnistack_cluster_name": "Boston",
        "source_omnistack_cluster_hypervisor_object_parent_id": "datacenter-4",
        "source_omnistack_cluster_hypervisor_object_parent_name": "DC-Boston",
        "destination_omnistack_cluster_id": "c-syd",
        "destination_omnistack_cluster_name": "Sydney",
        "destination_omnistack_cluster_hypervisor_object_parent_id": "datacenter-28",
        "destination_omnistack_cluster_hypervisor_object_parent_name": "DC-Sydney",
        "average_throughput": 233,
        "data": {
            "date_of_minimum": "2026-11-20T11:59:00Z",
            "minimum_throughput": 100,
            "date_of_maximum": "2026-11-20T11:58:00Z",  # the first of equal maxima
            "maximum_throughput": 300,
            "data_points": [
                {"value": 300, "date": "2026-11-20T11:58:00Z"},
                {"value": 100, "date": "2026-11-20T11:59:00Z"},
                {"value": 300, "date": "2026-11-20T12:00:00Z"},
            ],
        },
    }


def test_legacy_entry() -> None:
    entry = legacy_entry(SYDNEY, BOSTON, window(), [10, 20, 31])
    assert entry["throughput"] == 20 and entry["date"] == "2026-11-20T12:00:00Z"
    assert (
        entry["source_omnistack_cluster_id"] == "c-syd"
        and entry["destination_omnistack_cluster_name"] == "Boston"
    )
    assert len(entry) == 10
