"""`snapask config …` and `snapask key …`: settings and API keys."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from snapask_desktop import config, credentials
from snapask_desktop.ai.registry import PROVIDERS
from snapask_desktop.cli import exits, output


def register(commands: Any) -> None:
    """Add the config and key commands to the parser."""
    cfg = commands.add_parser("config", help="show or change settings")
    cfg.set_defaults(handler=show_settings)
    cfg_actions = cfg.add_subparsers(dest="config_action", metavar="ACTION")
    get = cfg_actions.add_parser("get", help="print one setting")
    get.add_argument("key")
    get.set_defaults(handler=get_setting)
    set_ = cfg_actions.add_parser("set", help="change one setting")
    set_.add_argument("key")
    set_.add_argument("value")
    set_.set_defaults(handler=set_setting)
    unset = cfg_actions.add_parser("unset", help="put one setting back to its default")
    unset.add_argument("key")
    unset.set_defaults(handler=unset_setting)
    path = cfg_actions.add_parser("path", help="print where the settings file is")
    path.set_defaults(handler=settings_path)

    key = commands.add_parser("key", help="store, check or delete an API key (OS keyring)")
    key.set_defaults(handler=key_status)
    key_actions = key.add_subparsers(dest="key_action", metavar="ACTION")
    for name, handler, text in (
        ("set", set_key, "store a key (prompted, never echoed; read from stdin if piped)"),
        ("status", key_status, "say whether a key is set and where it comes from"),
        ("delete", delete_key, "remove a key from the keyring"),
    ):
        action = key_actions.add_parser(name, help=text)
        action.add_argument(
            "provider",
            nargs="?" if name == "status" else None,
            choices=PROVIDERS,
        )
        action.set_defaults(handler=handler)


def load_settings() -> config.Settings:
    """Load the settings, telling the user about any problem in the file."""
    result = config.SettingsStore().load()
    for problem in result.problems:
        output.note(f"settings: {problem}")
    return result.settings


def show_settings(args: argparse.Namespace) -> int:
    settings = load_settings()
    defaults = config.Settings()
    for key in config.FIELDS:
        value = getattr(settings, key)
        origin = "" if value == getattr(defaults, key) else "  (changed)"
        print(f"{key} = {_show(value)}{origin}")
        print(f"    {config.describe(key)}")
    return exits.OK


def get_setting(args: argparse.Namespace) -> int:
    try:
        config.describe(args.key)
    except config.SettingsError as error:
        output.error(str(error))
        return exits.USAGE
    print(_show(getattr(load_settings(), args.key)))
    return exits.OK


def set_setting(args: argparse.Namespace) -> int:
    try:
        value = config.parse_value(args.key, args.value)
        config.SettingsStore().update(**{args.key: value})
    except config.SettingsError as error:
        output.error(str(error))
        return exits.USAGE
    print(f"{args.key} = {_show(value)}")
    return exits.OK


def unset_setting(args: argparse.Namespace) -> int:
    try:
        default = config.default_value(args.key)
    except config.SettingsError as error:
        output.error(str(error))
        return exits.USAGE
    config.SettingsStore().update(**{args.key: default})
    print(f"{args.key} = {_show(default)}  (default)")
    return exits.OK


def settings_path(args: argparse.Namespace) -> int:
    print(config.SettingsStore().path)
    return exits.OK


def set_key(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        value = getpass.getpass(f"{args.provider} API key (input hidden): ")
    else:
        value = sys.stdin.readline()
    try:
        credentials.set_api_key(args.provider, value)
    except credentials.CredentialError as error:
        output.error(str(error))
        return exits.FAILED
    print(f"{args.provider} API key stored in the system keyring.")
    return exits.OK


def key_status(args: argparse.Namespace) -> int:
    providers = [args.provider] if getattr(args, "provider", None) else PROVIDERS
    try:
        for provider in providers:
            key = credentials.get_api_key(provider)
            where = f"set, from the {key.source}" if key else "not set"
            print(f"{provider}: {where}")
    except credentials.CredentialError as error:
        output.error(str(error))
        return exits.FAILED
    return exits.OK


def delete_key(args: argparse.Namespace) -> int:
    try:
        removed = credentials.delete_api_key(args.provider)
    except credentials.CredentialError as error:
        output.error(str(error))
        return exits.FAILED
    print(f"{args.provider} API key {'deleted' if removed else 'was not stored'}.")
    return exits.OK


def _show(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
