"""``mlc sim quickbooks show FILE``: what the company file holds after a demo — preferences, accounts
with their numbers, vendors (code, currency), bills with their open balance, bill payments, journal
entries, and totals per account and per class (expense side: bill lines and JE debits)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sim.quickbooks.engine import CompanyFile


def _name(cf: CompanyFile, ref: dict | None) -> str:
    return cf.ref_name(ref)


def totals(cf: CompanyFile) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Debit-side totals per account and per class (bill expense lines + JE debit lines)."""
    per_account: dict[str, Decimal] = defaultdict(Decimal)
    per_class: dict[str, Decimal] = defaultdict(Decimal)
    for bill in cf.state.txns["Bill"]:
        for line in bill["ExpenseLineRet"]:
            amount = Decimal(line["Amount"])
            per_account[_name(cf, line["AccountRef"])] += amount
            per_class[_name(cf, line.get("ClassRef")) or "(no class)"] += amount
    for je in cf.state.txns["JournalEntry"]:
        for line in je["Lines"]:
            if line["_tag"] != "JournalDebitLine":
                continue
            amount = Decimal(line["Amount"])
            per_account[_name(cf, line["AccountRef"])] += amount
            per_class[_name(cf, line.get("ClassRef")) or "(no class)"] += amount
    return dict(per_account), dict(per_class)


def render(cf: CompanyFile) -> str:
    st = cf.state
    out: list[str] = [
        f"Company: {st.company_name}  (closing date: {st.closing_date or 'none'}, "
        f"currency: {st.home_currency}, multicurrency: {'on' if st.multicurrency else 'off'}, "
        f"account numbers: {'on' if st.account_numbers else 'off'}, country: {st.country})"
    ]
    for owner, exts in st.data_ext.items():
        for name, value in exts.items():
            out.append(f"DataExt {name} = {value}  (OwnerID {owner})")
    accounts = st.lists["Account"]
    out.append(f"\nAccounts ({len(accounts)}):")
    for a in sorted(accounts, key=lambda r: (r.get("AccountNumber") or "~", r["FullName"].casefold())):
        currency = f"  [{cf.currency_of(a)}]" if st.multicurrency else ""
        out.append(
            f"  {a.get('AccountNumber', ''):<8} {a['FullName']:<40} {a.get('AccountType', '')}{currency}{'' if a.get('IsActive', True) else '  (inactive)'}"
        )
    vendors = st.lists["Vendor"]
    out.append(f"\nVendors ({len(vendors)}):")
    for v in sorted(vendors, key=lambda r: r["Name"].casefold()):
        details = "".join(
            f"  {label} {value}" for label, value in (("code", v.get("AccountNumber")), ("currency", cf.currency_of(v) if st.multicurrency else None)) if value
        )
        out.append(f"  {v['Name']:<41} {v['ListID']:<20} EditSequence {v['EditSequence']}{details}{'' if v.get('IsActive', True) else '  (inactive)'}")
    if st.multicurrency:
        currencies = [c for c in st.lists.get("Currency", []) if c.get("IsActive", True)]
        out.append(f"\nCurrencies ({len(currencies)}):")
        for c in currencies:
            out.append(f"  {c.get('CurrencyCode', ''):<4} {c['Name']:<30} rate {c.get('ExchangeRate', '1 (home)')}")
    bills = st.txns["Bill"]
    out.append(f"\nBills ({len(bills)}):")
    for b in bills:
        currency = f" {cf.ref_name(b['CurrencyRef'])}" if b.get("CurrencyRef") else ""
        state = "paid" if b.get("IsPaid") else f"open {b.get('OpenAmount', b['AmountDue'])}"
        out.append(
            f"  {b['TxnDate']}  {b.get('RefNumber', ''):<20} {_name(cf, b['VendorRef']):<30} "
            f"{b['AmountDue']:>12}{currency}  {state:<16} {b['TxnID']}  {b.get('ExternalGUID', '') or '(keyed by hand)'}"
        )
    payments = st.txns.get("BillPaymentCheck", [])
    out.append(f"\nBill payments ({len(payments)}):")
    for p in payments:
        applied = ", ".join(f"{a.get('RefNumber') or a['TxnID']} {a['Amount']}" for a in p["AppliedToTxnRet"])
        out.append(
            f"  {p['TxnDate']}  {p.get('RefNumber', ''):<11} {_name(cf, p['PayeeEntityRef']):<30} {p['Amount']:>12}  "
            f"from {_name(cf, p['BankAccountRef'])}  -> {applied}  {p['TxnID']}  {p.get('ExternalGUID', '')}"
        )
    jes = st.txns["JournalEntry"]
    out.append(f"\nJournal entries ({len(jes)}):")
    for je in jes:
        debit = sum((Decimal(line["Amount"]) for line in je["Lines"] if line["_tag"] == "JournalDebitLine"), Decimal("0.00"))
        out.append(f"  {je['TxnDate']}  {je.get('RefNumber', ''):<11} {len(je['Lines']):>3} lines {debit:>12}  {je['TxnID']}  {je.get('ExternalGUID', '')}")
    per_account, per_class = totals(cf)
    out.append("\nTotals per account:")
    for name, amount in sorted(per_account.items()):
        out.append(f"  {name:<40} {amount:>12}")
    out.append("\nTotals per class:")
    for name, amount in sorted(per_class.items()):
        out.append(f"  {name:<40} {amount:>12}")
    grand = sum(per_account.values(), Decimal("0.00"))
    out.append(f"\nTotal posted: {grand}")
    return "\n".join(out) + "\n"
