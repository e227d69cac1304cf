"""Concur codes to QuickBooks names, per ``[companies.mapping]`` in mlc.toml.

A ``Resolver`` is used for one document: it answers each lookup, remembers which rule it used
(for the audit trail) and collects every unmapped code, so that one hold reason lists all that
is missing and the operator fixes the config once, not once per code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import CompanyConfig

# What each kind of code is called in a reason, and where in mlc.toml its mapping goes.
_TABLES = {
    "expense_type": ("expense type", "expense types", "expense_types"),
    "class": ("class code", "class codes", "classes"),
    "customer_job": ("customer:job code", "customer:job codes", "customers"),
}


def _lookup(table: dict[str, str], code: str) -> str | None:
    """Exact key first; then a case-insensitive match if exactly one key fits (Concur codes are
    usually upper case, config files are typed by people)."""
    if code in table:
        return table[code]
    folded = [v for k, v in table.items() if k.casefold() == code.casefold()]
    return folded[0] if len(folded) == 1 else None


def _field(fields: dict[str, str], name: str) -> str:
    """The allocation field ``name`` (custom1, orgUnit2, ...) ignoring case, stripped; "" if absent."""
    if name in fields:
        return (fields[name] or "").strip()
    for key, value in fields.items():
        if key.casefold() == name.casefold():
            return (value or "").strip()
    return ""


@dataclass(frozen=True)
class Dimensions:
    klass: str | None = None  # Class FullName
    customer: str | None = None  # Customer:Job FullName


@dataclass
class Resolver:
    company: CompanyConfig
    decisions: list[str] = field(default_factory=list)
    _unmapped: dict[str, list[str]] = field(default_factory=dict)

    def _note(self, text: str) -> None:
        if text not in self.decisions:
            self.decisions.append(text)

    def _miss(self, kind: str, code: str) -> None:
        codes = self._unmapped.setdefault(kind, [])
        if code not in codes:
            codes.append(code)

    def account(self, expense_type: str) -> str | None:
        """The expense account FullName for a Concur expense type code, or None (recorded)."""
        name = _lookup(self.company.mapping.expense_types, expense_type)
        if name is None:
            self._miss("expense_type", expense_type)
        else:
            self._note(f'expense type "{expense_type}" -> account "{name}" (mapping.expense_types)')
        return name

    def dimensions(self, fields: dict[str, str]) -> Dimensions:
        """Class and customer:job for one allocation, per ``mapping.dimensions``.

        No dimension configured, or the allocation has no code in that field: nothing on the line.
        """
        found: dict[str, str | None] = {"class": None, "customer_job": None}
        tables = {"class": self.company.mapping.classes, "customer_job": self.company.mapping.customers}
        for target, table in tables.items():
            concur_field = self.company.mapping.dimensions.get(target)
            if not concur_field:
                continue
            code = _field(fields, concur_field)
            if not code:
                continue
            name = _lookup(table, code)
            if name is None:
                self._miss(target, code)
                continue
            label = "class" if target == "class" else "customer:job"
            self._note(f'{concur_field} "{code}" -> {label} "{name}" (mapping.{_TABLES[target][2]})')
            found[target] = name
        return Dimensions(klass=found["class"], customer=found["customer_job"])

    def unmapped_reason(self) -> str | None:
        """One reason naming every unmapped code of the document and the company, or None."""
        parts = []
        for kind in ("expense_type", "class", "customer_job"):
            codes = self._unmapped.get(kind)
            if not codes:
                continue
            one, many, table = _TABLES[kind]
            quoted = ", ".join(f'"{c}"' for c in codes)
            label, pronoun = (one, "it") if len(codes) == 1 else (many, "them")
            parts.append(f"unmapped {label} {quoted} for company {self.company.id} (add {pronoun} under [companies.mapping.{table}])")
        return "; ".join(parts) if parts else None
