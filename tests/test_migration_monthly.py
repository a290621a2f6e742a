"""Migration progress month by month per size band, as the programme's cleansing reports
show it: checked against a known population whose resets are completed in two months."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from policies.migration_policy import load_migration_policy
from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.errors import PermissionDenied
from services.migration.monthly import MonthRow, completion_by_month
from services.migration.run import run_migration
from services.migration.tracking import remind
from services.reset import complete_reset
from tests.test_migration_plan import export
from tests.test_migration_run import (
    NEW_PASSWORD,
    alex_suffix,
    by_login,
    signed_plan,
    token_for,
)


def test_completion_month_by_month(ctx: Context, clock: ManualClock, tmp_path: Path,
                                   make_person: Callable[..., Operator]) -> None:
    admin = make_person("platform_admin")
    reviewer = make_person("security_reviewer")
    assert completion_by_month(ctx, reviewer) == []
    source = export(tmp_path)
    run_migration(ctx, admin, signed_plan(ctx, admin, source, load_migration_policy(),
                                          alex_suffix), source)
    people = by_login(ctx)
    complete_reset(ctx, token_for(ctx, people["kim.lowe"].subject), NEW_PASSWORD)  # January

    clock.advance(timedelta(days=30))  # into February: the January codes have expired
    assert remind(ctx, admin).reminded == 4
    complete_reset(ctx, token_for(ctx, people["jo.reed"].subject), NEW_PASSWORD)

    rows = completion_by_month(ctx, reviewer)
    # (NWGS is large: two migrated, one disabled; TYNE medium: four — see test_migration_run.)
    assert rows == [
        MonthRow("2026-01", "large", 2, 0, 2, 0),
        MonthRow("2026-02", "large", 0, 0, 2, 0),
        MonthRow("2026-01", "medium", 4, 1, 4, 1),
        MonthRow("2026-02", "medium", 0, 1, 4, 2),
    ]
    assert rows[-1].completed_percent == 50.0
    with pytest.raises(PermissionDenied):
        completion_by_month(ctx, make_person())
