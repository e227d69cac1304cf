"""Concur codes to QuickBooks names, per ``[companies.mapping]`` in mlc.toml.

A ``Resolver`` is used for one document: it answers each lookup, remembers which rule it used
(for the audit trail) and collects every unmapped code, so that one hold reason lists all that
is missing and the operator fixes the config once, not once per code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.config import ANY, CompanyConfig
from shared.domain import Allocation

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


def _field(fields: Mapping[str, str], name: str) -> str:
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
    _no_code: list[str] = field(default_factory=list)  # expenses/lines whose allocation has no Concur account code

    def _note(self, text: str) -> None:
        if text not in self.decisions:
            self.decisions.append(text)

    def _miss(self, kind: str, code: str) -> None:
        codes = self._unmapped.setdefault(kind, [])
        if code not in codes:
            codes.append(code)

    def account(self, expense_type: str, fields: Mapping[str, str] | None = None) -> str | None:
        """The account (a full name or number, as configured) for an expense type charged to the
        cost center in ``fields``, or None (recorded as unmapped).

        Order, most specific first: rule "TYPE/CC", rule "TYPE/*", rule "*/CC", then
        ``expense_types``, then rule "*/*" (a catch-all, so it does not shadow expense_types).
        The expense type decides what an account is about (airfare, meals); a cost center
        override for every type is broader than a rule for one type, so "TYPE/*" comes before
        "*/CC"."""
        mapping = self.company.mapping
        cost_center = ""
        cost_center_field = mapping.dimensions.get("cost_center", "")
        if cost_center_field and fields is not None:
            cost_center = _field(fields, cost_center_field)
        candidates = [(expense_type, cost_center)] if cost_center else []
        candidates += [(expense_type, ANY)] + ([(ANY, cost_center)] if cost_center else [])
        for rule_type, rule_center in candidates:
            name = _lookup(mapping.accounts, f"{rule_type}/{rule_center}")
            if name is not None:
                where = f', {cost_center_field} "{cost_center}"' if rule_center != ANY else ""
                self._note(f'expense type "{expense_type}"{where} -> account "{name}" (mapping.accounts rule "{rule_type}/{rule_center}")')
                return name
        name = _lookup(mapping.expense_types, expense_type)
        if name is not None:
            self._note(f'expense type "{expense_type}" -> account "{name}" (mapping.expense_types)')
            return name
        name = _lookup(mapping.accounts, f"{ANY}/{ANY}")
        if name is not None:
            self._note(f'expense type "{expense_type}" -> account "{name}" (mapping.accounts rule "*/*")')
            return name
        self._miss("expense_type", expense_type)
        return None

    def account_by_code(self, allocation: Allocation | None, what: str) -> str | None:
        """``account_source = "concur_account_code"``: the account Concur computed for this share,
        translated through ``account_codes`` or else taken as a QuickBooks account number (or full
        name). None when Concur gave no code (recorded, naming ``what``: the expense or line).

        ``overLimitAccountCode`` is Concur's account for the part of a share above a limit (a
        travel allowance); no public v4 or v3 payload states how much of the share that is, so the
        whole share goes to ``accountCode``. A source that splits the over-limit part into its own
        line (FIS journal lines) carries that line's account code, which is taken as any other."""
        code = allocation.account_code.strip() if allocation is not None else ""
        if not code:
            self._no_code.append(what)
            return None
        if allocation is not None and allocation.over_limit_account_code.strip():
            self._note(
                f'{what}: over-limit account code "{allocation.over_limit_account_code.strip()}" not used: Concur states no over-limit amount, so the whole share goes to account code "{code}"'
            )
        name = _lookup(self.company.mapping.account_codes, code)
        if name is not None:
            self._note(f'Concur account code "{code}" -> account "{name}" (mapping.account_codes)')
            return name
        self._note(
            f'Concur account code "{code}" -> account "{code}" (account_source = concur_account_code; not in mapping.account_codes, so taken as the QuickBooks account number or name)'
        )
        return code

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
        if self._no_code:
            parts.append(
                f"no Concur account code on {', '.join(dict.fromkeys(self._no_code))} (account_source = concur_account_code: Concur's accounting configuration must give every allocation an account code)"
            )
        for kind in ("expense_type", "class", "customer_job"):
            codes = self._unmapped.get(kind)
            if not codes:
                continue
            one, many, table = _TABLES[kind]
            quoted = ", ".join(f'"{c}"' for c in codes)
            label, pronoun = (one, "it") if len(codes) == 1 else (many, "them")
            where = f"[companies.mapping.{table}]"
            if kind == "expense_type" and self.company.mapping.accounts:
                where += " or a rule under [companies.mapping.accounts]"
            parts.append(f"unmapped {label} {quoted} for company {self.company.id} (add {pronoun} under {where})")
        return "; ".join(parts) if parts else None
