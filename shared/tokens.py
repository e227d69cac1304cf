"""The operator token file, read by the worker (to check) and by the console (to send).

One token per line: ``NAME TOKEN`` or ``NAME TOKEN read-only``; ``#`` starts a comment. A file
holding only a bare token is one token named ``operator``. The worker creates the file with a
random token (mode 0600) when it is missing.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

READ_ONLY = "read-only"


@dataclass(frozen=True)
class OperatorToken:
    name: str
    token: str
    read_only: bool = False

    def __repr__(self) -> str:
        return f"OperatorToken(name={self.name!r}, read_only={self.read_only})"


class TokenFileError(Exception):
    pass


def parse_tokens(text: str, label: str = "token file") -> list[OperatorToken]:
    tokens: list[OperatorToken] = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) == 1:
            tokens.append(OperatorToken("operator", words[0]))
        elif len(words) == 2:
            tokens.append(OperatorToken(words[0], words[1]))
        elif len(words) == 3 and words[2] == READ_ONLY:
            tokens.append(OperatorToken(words[0], words[1], read_only=True))
        else:
            raise TokenFileError(f"{label}: line {number}: expected NAME TOKEN [{READ_ONLY}]")
        if len(tokens[-1].token) < 16:
            raise TokenFileError(f"{label}: line {number}: token too short (16 characters at least)")
    return tokens


def read_tokens(path: Path) -> list[OperatorToken]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TokenFileError(f"{path}: not found (the worker creates it on first start)") from None
    except OSError as exc:
        raise TokenFileError(f"{path}: cannot read: {exc.strerror}") from None
    tokens = parse_tokens(text, str(path))
    if not tokens:
        raise TokenFileError(f"{path}: holds no token")
    return tokens


def ensure_token_file(path: Path) -> list[OperatorToken]:
    """Create the file with one random admin token when missing (0600), then read it.

    Several workers sharing a directory may start at once: the file is written whole under a
    private name and then linked into place, which fails if another got there first, so nobody
    reads a half-written file and the first one made is the one every worker uses."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"# ml-connector operator tokens: NAME TOKEN [{READ_ONLY}]\nadmin {token}\n")
            os.link(draft, path)
        except FileExistsError:
            pass  # another worker made it first: use theirs
        finally:
            draft.unlink(missing_ok=True)
    return read_tokens(path)
