"""The days nobody serves at any site: Indonesia's public holidays (the `holidays` package, country ID) and the cuti
bersama of the data file named by CUTI_BERSAMA_FILE (read once at start; a new year is a new file, not code)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field

from routing.domain import DaysOff


class JointLeaveDay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: date
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)  # the SKB 3 Menteri that sets it (or why it is assumed)


class JointLeaveFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[JointLeaveDay]


def load_days_off(cuti_bersama_file: Path) -> DaysOff:
    joint = JointLeaveFile.model_validate(yaml.safe_load(cuti_bersama_file.read_text(encoding="utf-8")))
    # Public holidays only: the package's GOVERNMENT category would add its own copy of the cuti bersama, which
    # the data file owns (so that a late change by a new SKB needs no package release).
    public = holidays.country_holidays("ID", language="id")
    return DaysOff(public=public, joint={day.date: day.name for day in joint.days})
