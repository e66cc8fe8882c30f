"""How many workers `FRAUDCHANNEL_WORKERS=0` starts: CPUs the process may use, within its
container's CPU quota (cgroup v2 cpu.max, or v1 cfs quota/period)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fraudchannel import serving

CPUS = len(os.sched_getaffinity(0))


def _v2(root: Path, text: str) -> Path:
    (root / "cpu.max").write_text(text)
    return root


def _v1(root: Path, quota: str, period: str) -> Path:
    (root / "cpu").mkdir()
    (root / "cpu" / "cpu.cfs_quota_us").write_text(quota + "\n")
    (root / "cpu" / "cpu.cfs_period_us").write_text(period + "\n")
    return root


@pytest.mark.parametrize(
    ("text", "quota"),
    [
        ("max 100000\n", None),
        ("100000 100000\n", 1),
        ("150000 100000\n", 2),  # 1.5 CPUs: round up, a worker per started CPU
        ("50000 100000\n", 1),  # half a CPU: still one worker
        ("", None),
        ("garbage", None),
    ],
)
def test_cgroup_v2_quota(tmp_path: Path, text: str, quota: int | None) -> None:
    assert serving.cpu_quota(_v2(tmp_path, text)) == quota


@pytest.mark.parametrize(
    ("quota_us", "period_us", "quota"),
    [("-1", "100000", None), ("200000", "100000", 2), ("250000", "100000", 3)],
)
def test_cgroup_v1_quota(tmp_path: Path, quota_us: str, period_us: str, quota: int | None) -> None:
    assert serving.cpu_quota(_v1(tmp_path, quota_us, period_us)) == quota


def test_no_cgroup_files_means_no_quota(tmp_path: Path) -> None:
    assert serving.cpu_quota(tmp_path) is None


def test_zero_means_usable_cpus_within_the_quota(tmp_path: Path) -> None:
    assert serving.worker_count(0, tmp_path) == CPUS
    assert serving.worker_count(0, _v2(tmp_path, "100000 100000")) == 1
    assert serving.worker_count(5, tmp_path) == 5  # an explicit count is taken as given
