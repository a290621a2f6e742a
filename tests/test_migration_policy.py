"""policies/migration.toml: the shipped mapping loads, fits the store's catalogue, and a broken
one is refused with the file, the key and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import PolicyError
from policies.loader import POLICY_DIR
from policies.migration_policy import header_key, load_migration_policy
from services.migration.plan import check_policy_catalogue

SHIPPED = (POLICY_DIR / "migration.toml").read_text()


def test_the_shipped_policy_loads_and_fits_the_catalogue() -> None:
    policy = load_migration_policy()
    check_policy_catalogue(policy)
    assert policy.role_codes["LSO"] == ("GATEHOUSE", "lso")
    assert policy.header_aliases[header_key("E-Mail Address")] == "email"
    assert policy.status_map["INACTIVE"] == "disabled"
    assert {o.type for o in policy.organisations.values()} >= {"shipper", "supplier", "gt",
                                                               "igt"}
    assert len(policy.sha256) == 64


def test_a_large_export_is_cut_into_fewer_larger_batches() -> None:
    policy = load_migration_policy()
    assert (policy.batch_size, policy.max_batches) == (5000, 20)
    assert policy.batch_size_for(7) == policy.batch_size_for(92_071) == 5000
    assert policy.batch_size_for(100_001) == 5001
    assert policy.batch_size_for(920_226) == 46_012  # 20 batches
    assert policy.batch_size_for(10**8) == 100_000  # the ceiling: then more batches


@pytest.mark.parametrize(("old", "new", "message"), [
    ('DES_RO = "DES:viewer"', 'DES_RO = "DES"', "roles.codes.DES_RO is 'DES'; write it"),
    ("batch_size = 5000", "batch_size = 0", "run.batch_size is 0; it must be at least 1"),
    ("max_batches = 20", "max_batches = 0", "run.max_batches is 0; it must be at least 1"),
    ("[run]", "[run]\nbatchsize = 3", "run.batchsize is not a known key"),
    ('email = ["email",', 'email = ["surname", "email",',
     "holds 'surname', which columns.email also accepts"),
    ('size = "large"', 'size = "huge"', "size is 'huge'; use one of large, medium, small"),
    ('disabled = ["D",', 'disabled = ["A",', "status.disabled holds 'A'"),
])
def test_a_broken_policy_names_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "migration.toml"
    assert old in SHIPPED
    path.write_text(SHIPPED.replace(old, new, 1))
    with pytest.raises(PolicyError, match=r"^migration\.toml: ") as caught:
        load_migration_policy(path)
    assert message in str(caught.value)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('DES_RO = "DES:viewer"', 'DES_RO = "DES:admin"', "not a product role here"),
    ('LSO = "GATEHOUSE:lso"', 'LSO = "GATEHOUSE:platform_admin"', "grant it by hand"),
    ('type = "igt"', 'type = "pipeline"', "use one of shipper"),
])
def test_the_catalogue_check_refuses_what_the_store_cannot_hold(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "migration.toml"
    path.write_text(SHIPPED.replace(old, new, 1))
    with pytest.raises(PolicyError, match=message):
        check_policy_catalogue(load_migration_policy(path))
