"""The Organisations table (a few hundred rows at most: a plain list is enough)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.orgs import Organisation

TYPE_TEXT = {"shipper": "Shipper", "supplier": "Supplier", "gt": "Gas transporter",
             "igt": "Independent gas transporter", "cdsp": "Central data service provider",
             "other": "Other"}


class OrgsModel(RecordTableModel["Organisation"]):
    COLUMNS = ("Code", "Name", "Type")

    def cells(self, record: Organisation) -> tuple[str, ...]:
        return record.code, record.name, TYPE_TEXT.get(record.type, record.type)
