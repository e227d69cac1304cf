"""Load and validate ``mlc.toml``.

Every problem is reported as one line naming the key (``mlc.toml: companies[0].qbwc.username:
required``) and all problems are collected before failing, so one run of ``mlc check-config`` shows
everything to fix. Secrets may come from environment variables through ``*_env`` keys; the values
are kept in ``Secret`` so that they never print by accident.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "mlc.toml"
COMPANY_ID = re.compile(r"^[a-z0-9-]{1,32}$")
GUID = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")


class Secret:
    """A string that does not show itself in repr/str/format (logs, tracebacks, API output)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class WorkerConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8750
    public_url: str = "http://127.0.0.1:8750"
    data_dir: Path = Path("var")
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    log_level: str = "info"
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For names the real client
    allowed_hosts: tuple[str, ...] = ()  # Host header names accepted besides public_url's and listen's

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"


@dataclass(frozen=True)
class OperatorConfig:
    token_file: Path = Path("var/operator.token")


@dataclass(frozen=True)
class StoreConfig:
    """``[store]``: where the worker keeps its state. ``url`` empty = SQLite in ``data_dir``;
    ``postgresql://...`` = a PostgreSQL database any number of workers share. The URL may carry a
    password, so it is a Secret; ``redacted`` is what may be shown."""

    url: Secret = field(default_factory=lambda: Secret(""))

    @property
    def postgres(self) -> bool:
        return bool(self.url)

    @property
    def redacted(self) -> str:
        return redact_url(self.url.reveal()) if self.url else "SQLite in data_dir"

    @property
    def password(self) -> str:
        return _url_password(self.url.reveal())


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (``postgresql://user:***@host/db``), and any
    ``password=`` query parameter too: what logs, errors and check-config may print."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}:***@{host}" if colon else f"{user}@{host}"
    tail = re.sub(r"(?i)(password=)[^&]*", r"\1***", tail)
    return f"{scheme}{sep}{authority}{slash}{tail}"


def _url_password(url: str) -> str:
    from urllib.parse import parse_qs, unquote, urlsplit

    try:
        parts = urlsplit(url)
        found = parts.password or ""
        query = parse_qs(parts.query).get("password", [""])[0]
    except ValueError:
        return ""
    return unquote(found) if found else query


CONCUR_SOURCES = ("expense_api", "fis")


@dataclass(frozen=True)
class ConcurConfig:
    base_url: str
    client_id: str
    client_secret: Secret
    company_uuid: str
    request_token: Secret
    webhook_public_keys: tuple[Path, ...]
    verify_webhook_signature: bool = True
    sweep_interval_s: float = 900.0
    # Concur calls one company may have in flight at once (fewer after a 429: worker/concur/limiter.py).
    max_calls_in_flight: int = 8
    source: str = "expense_api"  # or "fis": documents from the Financial Integration Service (README "FIS")


@dataclass(frozen=True)
class QbwcConfig:
    username: str
    password_hash: str | None
    password: Secret  # plain password from password_env, hashed at start
    file_id: str
    owner_id: str
    qbxml_version: str = "13.0"
    run_every_minutes: int = 5
    company_file: str = ""  # full path of the .QBW; "" = the file open in QuickBooks


@dataclass(frozen=True)
class PostingConfig:
    expense_report_as: str = "journal_entry"
    post_on_status: tuple[str, ...] = ("A_APPR",)
    ap_account: str = "Accounts Payable"
    company_card_account: str = "Company Card"
    # Concur payment types the company pays (the card issuer is owed them): CBCP (company billed,
    # company paid) and IBCP (individually billed, company paid). CASH and IBIP (individually
    # billed, individually paid) are the employee's. Used only where Concur's header figures are
    # absent, and in bill mode to tell which expenses go on the bill.
    company_paid_payment_types: tuple[str, ...] = ("CBCP", "IBCP")
    vendor_policy: str = "create"
    employee_receivable_account: str = ""  # debit for Concur's amountDueCompany; "" = not set (held when needed)
    company_paid_account: str = ""  # credit for Concur's amountCompanyPaid; "" = company_card_account
    cash_advance_account: str = ""  # credit for a cash advance applied to a report; "" = not set
    closed_period: str = "hold"  # or "first_open_day"
    concur_pays: bool = False  # Concur (Expense Pay / Invoice Pay) pays: record its payments
    concur_payment_account: str = ""  # the Bank-type clearing account those payments come from
    # (issue 13) set: an invoice's header tax / shipping is its own line on this account;
    # "" (default): spread over the invoice's lines in proportion.
    invoice_tax_account: str = ""
    invoice_shipping_account: str = ""
    ap_accounts: dict[str, str] = field(default_factory=dict)  # ISO currency code -> A/P account (multicurrency)


ACCOUNT_SOURCES = ("expense_type", "concur_account_code")
ANY = "*"  # matches every expense type or cost center in an [companies.mapping.accounts] rule


@dataclass(frozen=True)
class MappingConfig:
    expense_types: dict[str, str] = field(default_factory=dict)
    dimensions: dict[str, str] = field(default_factory=dict)  # QuickBooks field (class, customer_job, cost_center) -> Concur field
    classes: dict[str, str] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)
    # Where each debit line's account comes from: the expense type (rules, then expense_types) or
    # the allocation's own Concur account code (translated through account_codes).
    account_source: str = "expense_type"
    account_codes: dict[str, str] = field(default_factory=dict)  # Concur account code -> QuickBooks account
    accounts: dict[str, str] = field(default_factory=dict)  # "EXPENSE_TYPE/COST_CENTER" rule -> QuickBooks account
    terms: dict[str, str] = field(default_factory=dict)  # Concur payment terms -> QuickBooks Terms name


@dataclass(frozen=True)
class CompanyConfig:
    id: str
    name: str
    concur: ConcurConfig
    qbwc: QbwcConfig
    posting: PostingConfig
    mapping: MappingConfig


@dataclass(frozen=True)
class AlertsConfig:
    """``[alerts]``: where people are told when the connector needs them (README "Alerts")."""

    webhook_url: Secret = field(default_factory=lambda: Secret(""))  # a Slack/Teams webhook URL carries its own token
    email_to: tuple[str, ...] = ()
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    email_from: str = ""
    smtp_ca_file: Path | None = None  # trust this CA for STARTTLS (a private mail relay); default: the system's
    quickbooks_silent_hours: float = 24.0

    @property
    def email(self) -> bool:
        return bool(self.email_to)

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url) or self.email


@dataclass(frozen=True)
class Config:
    path: Path
    worker: WorkerConfig
    operator: OperatorConfig
    companies: tuple[CompanyConfig, ...]
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)

    def company(self, company_id: str) -> CompanyConfig:
        for company in self.companies:
            if company.id == company_id:
                return company
        raise KeyError(company_id)

    def secrets(self) -> list[str]:
        """Every secret value in this config, for tests and log scrubbing."""
        values: list[str] = []
        for c in self.companies:
            values += [c.concur.client_secret.reveal(), c.concur.request_token.reveal(), c.qbwc.password.reveal()]
        values += [self.alerts.webhook_url.reveal(), self.alerts.smtp_password.reveal()]
        if self.store.password:  # the URL as written (password perhaps %-encoded) and the password itself
            values += [self.store.url.reveal(), self.store.password]
        return [v for v in values if v]


class _Reader:
    """Reads typed values out of a TOML table and records each problem against its key."""

    def __init__(self, label: str, environ: dict[str, str]) -> None:
        self.label = label
        self.environ = environ
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.label}: {key}: {message}")

    def unknown_keys(self, table: dict[str, Any], prefix: str, known: set[str]) -> None:
        for key in table:
            if key not in known:
                self.problem(f"{prefix}{key}", "unknown key")

    def get(
        self, table: dict[str, Any], prefix: str, key: str, kind: type | tuple[type, ...], default: Any = ..., check: Callable[[Any], str | None] | None = None
    ) -> Any:
        name = f"{prefix}{key}"
        if key not in table:
            if default is ...:
                self.problem(name, "required")
                return None
            return default
        value = table[key]
        # bool is an int in Python; a port of `true` is still a mistake.
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.problem(name, f"expected {_type_name(kind)}, got boolean")
            return None
        if not isinstance(value, kind):
            self.problem(name, f"expected {_type_name(kind)}, got {_toml_type(value)}")
            return None
        if check is not None and (message := check(value)):
            self.problem(name, message)
            return None
        return value

    def table(self, table: dict[str, Any], prefix: str, key: str, required: bool = True) -> dict[str, Any]:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(f"{prefix}{key}", "required table")
            return {}
        if not isinstance(value, dict):
            self.problem(f"{prefix}{key}", f"expected a table, got {_toml_type(value)}")
            return {}
        return value

    def str_list(self, table: dict[str, Any], prefix: str, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(table, prefix, key, list, list(default))
        if value is None:
            return default
        if not all(isinstance(v, str) and v for v in value):
            self.problem(f"{prefix}{key}", "expected a list of non-empty strings")
            return default
        return tuple(value)

    def str_map(self, table: dict[str, Any], prefix: str, key: str) -> dict[str, str]:
        value = self.table(table, prefix, key, required=False)
        result: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(v, str) or not v.strip():
                self.problem(f"{prefix}{key}.{k}", "expected a non-empty string")
            else:
                result[str(k)] = v
        return result

    def secret(self, table: dict[str, Any], prefix: str, key: str, required: bool) -> Secret:
        """``key`` given inline, or ``key_env`` naming an environment variable."""
        inline = self.get(table, prefix, key, str, None)
        env_name = self.get(table, prefix, f"{key}_env", str, None)
        if inline is not None and env_name is not None:
            self.problem(f"{prefix}{key}", f"give either {key} or {key}_env, not both")
            return Secret("")
        if env_name is not None:
            value = self.environ.get(env_name, "")
            if not value and required:
                self.problem(f"{prefix}{key}_env", f"environment variable {env_name} is not set")
            return Secret(value)
        if inline is None and required:
            self.problem(f"{prefix}{key}", f"required (or {key}_env)")
        return Secret(inline or "")


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", int: "integer", float: "number", list: "list", dict: "table"}.get(type(value), type(value).__name__)


def _url(value: str) -> str | None:
    return None if re.match(r"^https?://[^\s/]+", value) else "expected an http:// or https:// URL"


def _one_of(*choices: str) -> Callable[[str], str | None]:
    return lambda value: None if value in choices else f"expected one of {', '.join(repr(c) for c in choices)}"


def _account_name(value: str) -> str | None:
    """A QuickBooks account FullName: set means not blank (an unset key is left out instead)."""
    return None if value.strip() else "must not be empty (leave the key out instead)"


def _guid(value: str) -> str | None:
    return None if GUID.match(value) else "expected a GUID in braces, like {6B29FC40-CA47-1067-B31D-00DD010662DA}"


def _not_blank(value: str) -> str | None:
    return None if value.strip() else "must not be empty (leave the key out instead)"


def _company_file(value: str) -> str | None:
    """authenticate hands this path to the Web Connector as-is; the words QBWC reads as answers
    (none, nvu, busy) would not open a file, and a path is a whole Windows path to a .QBW."""
    text = value.strip()
    if not text:
        return None
    if text.casefold() in ("none", "nvu", "busy"):
        return f"{text!r} is one of the Web Connector's answer words, not a company file path"
    if not text.casefold().endswith(".qbw"):
        return 'expected the full path of a .QBW company file (or "" for the file open in QuickBooks)'
    return None


MAX_CALLS_IN_FLIGHT = 64  # more would be a burst no tenant is known to accept


def _positive(value: int | float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _listen(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return "expected host:port, like 127.0.0.1:8750"
    return None


def _check_account_rules(r: _Reader, rules: dict[str, str], prefix: str, dimensions: dict[str, str]) -> None:
    """Each rule key is EXPENSE_TYPE/COST_CENTER (either part may be "*"); a rule that names a
    cost center needs ``dimensions.cost_center`` to say which allocation field holds it."""
    for key in rules:
        expense_type, slash, cost_center = key.partition("/")
        if not slash or not expense_type.strip() or not cost_center.strip() or "/" in cost_center:
            r.problem(f"{prefix}{key}", 'expected "EXPENSE_TYPE/COST_CENTER" (either may be "*")')
        elif cost_center.strip() != ANY and not dimensions.get("cost_center"):
            r.problem(
                f"{prefix}{key}", "a rule naming a cost center needs [companies.mapping.dimensions] cost_center (the Concur allocation field that holds it)"
            )


def load_config(path: Path | str | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(path or environ.get("MLC_CONFIG") or DEFAULT_CONFIG)
    label = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found (use --config or MLC_CONFIG)"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{label}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: not valid TOML: {exc}"]) from None
    return parse_config(raw, path, environ)


def parse_config(raw: dict[str, Any], path: Path, environ: dict[str, str]) -> Config:
    r = _Reader(path.name, environ)
    base = path.resolve().parent
    r.unknown_keys(raw, "", {"worker", "operator", "companies", "alerts", "store"})

    w = r.table(raw, "", "worker", required=False)
    r.unknown_keys(w, "worker.", {"listen", "public_url", "data_dir", "tls_certfile", "tls_keyfile", "log_level", "trusted_proxies", "allowed_hosts"})
    listen = r.get(w, "worker.", "listen", str, "127.0.0.1:8750", _listen) or "127.0.0.1:8750"
    host, _, port = listen.rpartition(":")
    certfile = r.get(w, "worker.", "tls_certfile", str, None)
    keyfile = r.get(w, "worker.", "tls_keyfile", str, None)
    if (certfile is None) != (keyfile is None):
        r.problem("worker.tls_keyfile" if keyfile is None else "worker.tls_certfile", "tls_certfile and tls_keyfile go together")
    for key, value in (("tls_certfile", certfile), ("tls_keyfile", keyfile)):
        if value is not None and not (base / value).is_file():
            r.problem(f"worker.{key}", f"file not found: {value}")
    worker = WorkerConfig(
        listen_host=host.strip("[]"),
        listen_port=int(port),
        public_url=(r.get(w, "worker.", "public_url", str, f"http://{listen}", _url) or f"http://{listen}").rstrip("/"),
        data_dir=base / (r.get(w, "worker.", "data_dir", str, "var") or "var"),
        tls_certfile=base / certfile if certfile else None,
        tls_keyfile=base / keyfile if keyfile else None,
        log_level=r.get(w, "worker.", "log_level", str, "info", _one_of("debug", "info", "warning", "error")) or "info",
        trusted_proxies=r.str_list(w, "worker.", "trusted_proxies", ()),
        allowed_hosts=tuple(h.lower() for h in r.str_list(w, "worker.", "allowed_hosts", ())),
    )
    for proxy in worker.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            r.problem("worker.trusted_proxies", f"not an IP address or network: {proxy!r}")

    o = r.table(raw, "", "operator", required=False)
    r.unknown_keys(o, "operator.", {"token_file"})
    token_file = r.get(o, "operator.", "token_file", str, None)
    operator = OperatorConfig(token_file=base / token_file if token_file else worker.data_dir / "operator.token")

    companies_raw = raw.get("companies", [])
    if not isinstance(companies_raw, list) or not all(isinstance(c, dict) for c in companies_raw):
        r.problem("companies", "expected [[companies]] tables")
        companies_raw = []
    if not companies_raw:
        r.problem("companies", "at least one [[companies]] table is required")
    companies = []
    seen_ids: set[str] = set()
    seen_users: set[str] = set()
    for i, c in enumerate(companies_raw):
        company = _company(r, c, f"companies[{i}].", base)
        if company is None:
            continue
        if company.id in seen_ids:
            r.problem(f"companies[{i}].id", f"duplicate company id {company.id!r}")
        if company.qbwc.username in seen_users:
            r.problem(f"companies[{i}].qbwc.username", "each company needs its own Web Connector username")
        seen_ids.add(company.id)
        seen_users.add(company.qbwc.username)
        companies.append(company)
    if r.problems:
        raise ConfigError(r.problems)
    alerts = _alerts(r, r.table(raw, "", "alerts", required=False), base)
    store = _store(r, r.table(raw, "", "store", required=False))
    if r.problems:
        raise ConfigError(r.problems)
    return Config(path=path, worker=worker, operator=operator, companies=tuple(companies), alerts=alerts, store=store)


def _store(r: _Reader, s: dict[str, Any]) -> StoreConfig:
    """``[store] url`` or ``url_env``: empty = SQLite; else a PostgreSQL URL. A problem names the key
    but never shows the URL (it may hold the password)."""
    p = "store."
    r.unknown_keys(s, p, {"url", "url_env"})
    url = r.get(s, p, "url", str, "") or ""
    url_env = r.get(s, p, "url_env", str, None)
    key = "url"
    if url and url_env:
        r.problem(f"{p}url", "give either url or url_env, not both")
        return StoreConfig()
    if url_env:
        key, url = "url_env", r.environ.get(url_env, "")
        if not url:
            r.problem(f"{p}url_env", f"environment variable {url_env} is not set")
            return StoreConfig()
    url = url.strip()
    if url and not url.startswith(POSTGRES_SCHEMES):
        r.problem(f"{p}{key}", 'expected "" (SQLite in data_dir) or a postgresql:// URL')
        return StoreConfig()
    return StoreConfig(url=Secret(url))


def _alerts(r: _Reader, a: dict[str, Any], base: Path) -> AlertsConfig:
    p = "alerts."
    r.unknown_keys(
        a,
        p,
        {
            "webhook_url",
            "url_env",
            "email_to",
            "smtp_host",
            "smtp_port",
            "smtp_user",
            "smtp_password_env",
            "email_from",
            "smtp_ca_file",
            "quickbooks_silent_hours",
        },
    )
    url = r.get(a, p, "webhook_url", str, "", lambda v: None if not v or _url(v) is None else "expected an http(s) URL") or ""
    url_env = r.get(a, p, "url_env", str, None)
    if url and url_env:
        r.problem(f"{p}webhook_url", "give either webhook_url or url_env, not both")
    if url_env:
        url = r.environ.get(url_env, "")
        if not url:
            r.problem(f"{p}url_env", f"environment variable {url_env} is not set")
        elif _url(url):
            r.problem(f"{p}url_env", f"environment variable {url_env} is not an http(s) URL")
    email_to = r.str_list(a, p, "email_to", ())
    password_env = r.get(a, p, "smtp_password_env", str, None)
    password = Secret(r.environ.get(password_env, "")) if password_env else Secret("")
    if password_env and not password:
        r.problem(f"{p}smtp_password_env", f"environment variable {password_env} is not set")
    host = r.get(a, p, "smtp_host", str, "") or ""
    sender = r.get(a, p, "email_from", str, "") or ""
    if email_to:
        for key, value in (("smtp_host", host), ("email_from", sender)):
            if not value.strip():
                r.problem(f"{p}{key}", "required when email_to is given")
    ca_file = r.get(a, p, "smtp_ca_file", str, None)
    if ca_file and not (base / ca_file).is_file():
        r.problem(f"{p}smtp_ca_file", f"file not found: {ca_file}")
    return AlertsConfig(
        webhook_url=Secret(url),
        email_to=email_to,
        smtp_host=host.strip(),
        smtp_port=r.get(a, p, "smtp_port", int, 587, lambda v: None if 0 < v < 65536 else "expected a port 1-65535") or 587,
        smtp_user=r.get(a, p, "smtp_user", str, "") or "",
        smtp_password=password,
        email_from=sender.strip(),
        smtp_ca_file=base / ca_file if ca_file else None,
        quickbooks_silent_hours=float(r.get(a, p, "quickbooks_silent_hours", (int, float), 24, _positive) or 24),
    )


def _company(r: _Reader, c: dict[str, Any], p: str, base: Path) -> CompanyConfig | None:
    before = len(r.problems)
    r.unknown_keys(c, p, {"id", "name", "concur", "qbwc", "posting", "mapping"})
    company_id = r.get(c, p, "id", str, check=lambda v: None if COMPANY_ID.match(v) else "expected 1-32 of a-z, 0-9 and -")
    name = r.get(c, p, "name", str, "")

    cc = r.table(c, p, "concur")
    cp = f"{p}concur."
    r.unknown_keys(
        cc,
        cp,
        {
            "base_url",
            "client_id",
            "client_secret",
            "client_secret_env",
            "company_uuid",
            "request_token",
            "request_token_env",
            "webhook_public_key",
            "verify_webhook_signature",
            "sweep_interval_s",
            "max_calls_in_flight",
            "source",
        },
    )
    verify = r.get(cc, cp, "verify_webhook_signature", bool, True)
    key_setting = cc.get("webhook_public_key", [])
    key_names = [key_setting] if isinstance(key_setting, str) else key_setting
    if not isinstance(key_names, list) or not all(isinstance(k, str) for k in key_names):
        r.problem(f"{cp}webhook_public_key", "expected a PEM file path or a list of them")
        key_names = []
    keys = tuple(base / k for k in key_names)
    if verify and not keys:
        r.problem(f"{cp}webhook_public_key", "required while verify_webhook_signature is true")
    concur = ConcurConfig(
        base_url=(r.get(cc, cp, "base_url", str, "https://us.api.concursolutions.com", _url) or "").rstrip("/"),
        client_id=r.get(cc, cp, "client_id", str) or "",
        client_secret=r.secret(cc, cp, "client_secret", required=True),
        company_uuid=r.get(cc, cp, "company_uuid", str) or "",
        request_token=r.secret(cc, cp, "request_token", required=False),
        webhook_public_keys=keys,
        verify_webhook_signature=bool(verify),
        sweep_interval_s=float(r.get(cc, cp, "sweep_interval_s", (int, float), 900, _positive) or 900),
        max_calls_in_flight=int(
            r.get(cc, cp, "max_calls_in_flight", int, 8, lambda v: None if 1 <= v <= MAX_CALLS_IN_FLIGHT else f"expected 1 to {MAX_CALLS_IN_FLIGHT}") or 8
        ),
        source=r.get(cc, cp, "source", str, "expense_api", lambda v: None if v in CONCUR_SOURCES else f"expected one of {', '.join(CONCUR_SOURCES)}")
        or "expense_api",
    )

    qc = r.table(c, p, "qbwc")
    qp = f"{p}qbwc."
    r.unknown_keys(qc, qp, {"username", "password_hash", "password_env", "file_id", "owner_id", "qbxml_version", "run_every_minutes", "company_file"})
    password_hash = r.get(qc, qp, "password_hash", str, None, lambda v: None if v.startswith("$argon2") else "expected an argon2 hash (see mlc set-password)")
    password_env = r.get(qc, qp, "password_env", str, None)
    if password_hash and password_env:
        r.problem(f"{qp}password_hash", "give either password_hash or password_env, not both")
    password = Secret(r.environ.get(password_env, "")) if password_env else Secret("")
    if password_env and not password:
        r.problem(f"{qp}password_env", f"environment variable {password_env} is not set")
    qbwc = QbwcConfig(
        username=r.get(qc, qp, "username", str, check=lambda v: None if v.strip() else "must not be empty") or "",
        password_hash=password_hash,
        password=password,
        file_id=r.get(qc, qp, "file_id", str, check=_guid) or "",
        owner_id=r.get(qc, qp, "owner_id", str, check=_guid) or "",
        qbxml_version=r.get(qc, qp, "qbxml_version", str, "13.0", lambda v: None if re.match(r"^\d+\.\d+$", v) else "expected a version like 13.0") or "13.0",
        run_every_minutes=r.get(qc, qp, "run_every_minutes", int, 5, _positive) or 5,
        company_file=(r.get(qc, qp, "company_file", str, "", _company_file) or "").strip(),
    )

    pc = r.table(c, p, "posting", required=False)
    pp = f"{p}posting."
    r.unknown_keys(
        pc,
        pp,
        {
            "expense_report_as",
            "post_on_status",
            "ap_account",
            "company_card_account",
            "company_paid_payment_types",
            "vendor_policy",
            "closed_period",
            "invoice_tax_account",
            "invoice_shipping_account",
            "ap_accounts",
            "concur_pays",
            "concur_payment_account",
            "employee_receivable_account",
            "company_paid_account",
            "cash_advance_account",
        },
    )
    ap_accounts = {}
    for code, account in r.str_map(pc, pp, "ap_accounts").items():
        if not re.match(r"^[A-Za-z]{3}$", code):
            r.problem(f"{pp}ap_accounts.{code}", "expected an ISO 4217 currency code (three letters, like EUR)")
        else:
            ap_accounts[code.upper()] = account
    posting = PostingConfig(
        expense_report_as=r.get(pc, pp, "expense_report_as", str, "journal_entry", _one_of("journal_entry", "bill")) or "journal_entry",
        post_on_status=r.str_list(pc, pp, "post_on_status", ("A_APPR",)),
        ap_account=r.get(pc, pp, "ap_account", str, "Accounts Payable") or "Accounts Payable",
        company_card_account=r.get(pc, pp, "company_card_account", str, "Company Card") or "Company Card",
        company_paid_payment_types=r.str_list(pc, pp, "company_paid_payment_types", ("CBCP", "IBCP")),
        vendor_policy=r.get(pc, pp, "vendor_policy", str, "create", _one_of("create", "match_only")) or "create",
        closed_period=r.get(pc, pp, "closed_period", str, "hold", _one_of("hold", "first_open_day")) or "hold",
        concur_pays=bool(r.get(pc, pp, "concur_pays", bool, False)),
        concur_payment_account=(r.get(pc, pp, "concur_payment_account", str, "") or "").strip(),
        invoice_tax_account=r.get(pc, pp, "invoice_tax_account", str, "", _not_blank) or "",
        invoice_shipping_account=r.get(pc, pp, "invoice_shipping_account", str, "", _not_blank) or "",
        ap_accounts=ap_accounts,
        employee_receivable_account=r.get(pc, pp, "employee_receivable_account", str, "", _account_name) or "",
        company_paid_account=r.get(pc, pp, "company_paid_account", str, "", _account_name) or "",
        cash_advance_account=r.get(pc, pp, "cash_advance_account", str, "", _account_name) or "",
    )
    if posting.concur_pays and not posting.concur_payment_account:
        r.problem(f"{pp}concur_payment_account", "required when concur_pays = true (the Bank account Concur's payments are recorded from)")

    mc = r.table(c, p, "mapping", required=False)
    mp = f"{p}mapping."
    r.unknown_keys(mc, mp, {"expense_types", "dimensions", "classes", "customers", "account_source", "account_codes", "accounts", "terms"})
    dimensions = r.str_map(mc, mp, "dimensions")
    r.unknown_keys(dimensions, f"{mp}dimensions.", {"class", "customer_job", "cost_center"})
    rules = r.str_map(mc, mp, "accounts")
    _check_account_rules(r, rules, f"{mp}accounts.", dimensions)
    mapping = MappingConfig(
        expense_types=r.str_map(mc, mp, "expense_types"),
        dimensions=dimensions,
        classes=r.str_map(mc, mp, "classes"),
        customers=r.str_map(mc, mp, "customers"),
        account_source=r.get(mc, mp, "account_source", str, "expense_type", _one_of(*ACCOUNT_SOURCES)) or "expense_type",
        account_codes=r.str_map(mc, mp, "account_codes"),
        accounts=rules,
        terms=r.str_map(mc, mp, "terms"),
    )
    if len(r.problems) > before or company_id is None:
        return None
    return CompanyConfig(id=company_id, name=name or company_id, concur=concur, qbwc=qbwc, posting=posting, mapping=mapping)
