"""The ``.qwc`` file a QuickBooks administrator loads into the Web Connector.

QBWC refuses some URLs outright, only after the user has gone to the trouble of adding the
file, with a terse code. ``check_app_url`` says the same thing up front, in words:
- AppURL must be https, except on ``localhost`` (QBWC1010 / QBWC1051);
- no IP-address hosts, not even 127.0.0.1 (QBWC1001 / QBWC1002);
- AppSupport must be on the same host as AppURL (QBWC1000).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from lxml import etree

from worker.qbxml.safexml import xml_safe

# GUIDs published in Intuit's and other projects' samples: reusing one mixes tenants up
# (consolibyte #307/#319) and is a usual cause of QBWC1039.
SAMPLE_GUIDS = frozenset(
    g.casefold()
    for g in (
        "{57F3B9B1-86F1-4fcc-B1EE-566DE1813D20}",
        "{90A44FB5-33D9-4815-AC85-BC87A7E7D1EB}",
        "{90A44FB7-33D9-4815-AC85-AC86A7E7D1EB}",
        "{57F3B9B6-86F1-4fcc-B1FF-967DE1813D20}",
        "{87EDAAF8-637E-4203-867F-4BA79C2F8998}",
        "{CA1C3EB8-1B61-4747-A743-8D5B438B83AC}",
    )
)

_GUID = re.compile(r"\{[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}")


class QwcError(ValueError):
    """Why a .qwc file cannot be written; the message is for the person running ``mlc qwc``."""


def _host(url: str) -> tuple[str, str]:
    """``(scheme, host)`` of an absolute URL, or QwcError."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise QwcError(f"{url!r} is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise QwcError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise QwcError(f"{url!r} must not carry a user name or password")
    return parts.scheme, host.casefold()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_app_url(url: str) -> None:
    """Raise QwcError when QuickBooks Web Connector would refuse ``url`` as AppURL."""
    scheme, host = _host(url)
    if _is_ip(host):
        raise QwcError(
            f"the Web Connector refuses IP-address URLs ({host}); use a host name, e.g. localhost "
            "or the server's DNS name (QBWC1001/QBWC1002). Set worker.public_url accordingly."
        )
    if scheme != "https" and host != "localhost":
        raise QwcError(
            f"the Web Connector only accepts https URLs except on localhost ({url}); serve the worker "
            "over TLS with a certificate from a public CA and set worker.public_url to https://… "
            "(QBWC1010/QBWC1051)."
        )


def check_support_url(app_url: str, support_url: str) -> None:
    """AppSupport must be a host name URL on the same host as AppURL (QBWC1000)."""
    _, app_host = _host(app_url)
    _, support_host = _host(support_url)
    if _is_ip(support_host):
        raise QwcError(f"the support URL must use a host name, not an IP address ({support_host})")
    if support_host != app_host:
        raise QwcError(f"the support URL must be on the same host as the service URL ({support_host} is not {app_host}; QBWC1000)")


def _check_guid(name: str, value: str) -> str:
    value = value.strip()
    if not _GUID.fullmatch(value):
        raise QwcError(f"{name} must be a GUID in braces, like {{3F2504E0-4F89-11D3-9A0C-0305E82C3301}}")
    if value.casefold() in SAMPLE_GUIDS:
        raise QwcError(f"{name} {value} is a published sample GUID; generate your own")
    return value


def build_qwc(
    app_name: str,
    app_url: str,
    support_url: str,
    username: str,
    owner_id: str,
    file_id: str,
    run_every_minutes: int,
    description: str,
) -> str:
    """The .qwc XML text (raises QwcError with a reason instead of writing a file QBWC refuses)."""
    check_app_url(app_url)
    check_support_url(app_url, support_url)
    if not app_name.strip():
        raise QwcError("AppName must not be empty")
    if not username.strip():
        raise QwcError("UserName must not be empty")
    owner = _check_guid("OwnerID", owner_id)
    file = _check_guid("FileID", file_id)
    if owner.casefold() == file.casefold():
        raise QwcError("OwnerID and FileID must differ")
    if isinstance(run_every_minutes, bool) or not isinstance(run_every_minutes, int) or run_every_minutes < 1:
        raise QwcError("run_every_minutes must be a whole number of minutes, at least 1")

    root = etree.Element("QBWCXML")

    def add(tag: str, text: str) -> etree._Element:
        element = etree.SubElement(root, tag)
        element.text = xml_safe(text)
        return element

    add("AppName", app_name.strip())
    add("AppID", "")
    add("AppURL", app_url.strip())
    add("AppDescription", description.strip())
    add("AppSupport", support_url.strip())
    add("UserName", username.strip())
    add("OwnerID", owner)
    add("FileID", file)
    add("QBType", "QBFS")
    scheduler = etree.SubElement(root, "Scheduler")
    etree.SubElement(scheduler, "RunEveryNMinutes").text = str(run_every_minutes)
    add("IsReadOnly", "false")  # false = read/write (the Guide's wording is inverted)
    add("UnattendedModePref", "umpRequired")
    add("PersonalDataPref", "pdpNotNeeded")
    add("AuthFlags", "0xF")
    etree.indent(root, space="  ")
    return '<?xml version="1.0"?>\n' + etree.tostring(root, encoding="unicode") + "\n"
