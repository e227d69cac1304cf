"""``mlc console``: read the operator token, open the console on a worker URL."""

from __future__ import annotations

import sys
from pathlib import Path

from shared.tokens import TokenFileError, read_tokens


def run_console(url: str, token_file: Path) -> int:
    """Run the console until the operator quits; the exit status for the CLI (2: no usable token)."""
    try:
        token = read_tokens(token_file)[0]
    except TokenFileError as exc:
        print(f"mlc console: {exc}", file=sys.stderr)
        return 2
    from console.app import ConsoleApp
    from console.client import ApiClient

    app = ConsoleApp(ApiClient(url, token.token), label=url)
    app.run()
    return app.return_code or 0
