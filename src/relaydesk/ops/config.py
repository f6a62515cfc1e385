"""``--config FILE``: TOML with ``[server]``, ``[broker]`` and ``[relay]`` tables whose keys
mirror the command-line flags (``public-url`` or ``public_url``). Flags given on the
command line win over the file.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

from relaydesk.errors import ConfigError

MAX_CONFIG_BYTES = 64 * 1024
TABLES = ("server", "broker", "relay")


def load_table(path: Path, table: str) -> dict[str, Any]:
    """The ``[table]`` of a TOML file, keys spelled as argparse ``dest`` names."""
    if table not in TABLES:
        raise ConfigError(f"no [{table}] table in relaydesk configuration")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        document = tomllib.loads(raw.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    section = document.get(table, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{table}] in {path} is not a table")
    return {key.replace("-", "_"): value for key, value in section.items()}


def apply(
    parser: argparse.ArgumentParser, args: argparse.Namespace, table: str, argv_flags: set[str]
) -> argparse.Namespace:
    """Fill ``args`` from ``args.config``'s ``[table]`` where the flag was not given.

    ``argv_flags``: the dest names given on the command line (see ``given_flags``).
    Unknown keys are refused, so a typo does not silently do nothing. Values are
    converted by the flag's own ``type`` (a path stays a Path).
    """
    config: Path | None = getattr(args, "config", None)
    if config is None:
        return args
    actions = {action.dest: action for action in parser._actions}
    for key, value in load_table(config, table).items():
        action = actions.get(key)
        if action is None or key in ("config", "help", "handler"):
            raise ConfigError(f"[{table}] in {config}: unknown key {key!r}")
        if key in argv_flags:
            continue
        converted = value
        if callable(action.type) and not isinstance(value, bool | list):
            converted = action.type(value)
        setattr(args, key, converted)
    return args


def given_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The dest names of options that appear in ``argv`` (``--port 1`` or ``--port=1``)."""
    given: set[str] = set()
    for action in parser._actions:
        for option in action.option_strings:
            if any(arg == option or arg.startswith(option + "=") for arg in argv):
                given.add(action.dest)
    return given
