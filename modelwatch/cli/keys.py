"""modelwatch keys: create (shown once), list and remove API keys."""

from __future__ import annotations

import argparse

from modelwatch.model_service.keys import ROLES, KeyStore
from modelwatch.core.config import Config


def add_arguments(parser: argparse.ArgumentParser, config: Config) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(parser))
    add = actions.add_parser("add", help="create a key for a client; the key is shown once")
    add.add_argument("name", help="client name (appears in metrics)")
    add.add_argument("--role", choices=ROLES, default="user")
    ensure = actions.add_parser("ensure", help="create a key for the client unless it has one")
    ensure.add_argument("name")
    ensure.add_argument("--role", choices=ROLES, default="user")
    actions.add_parser("list", help="list clients (never keys)")
    remove = actions.add_parser("remove", help="remove a client's keys (by name or id)")
    remove.add_argument("name")


def run(args: argparse.Namespace, config: Config) -> int:
    store = KeyStore(config.paths.keys_file)
    if args.action == "list":
        for client in store.clients():
            print(f"{client['id']}  {client['name']:<20} {client['role']:<6} {client['created']}")
        return 0
    if args.action == "remove":
        print(f"removed {store.remove(args.name)} key(s)")
        return 0
    key = store.ensure(args.name, args.role) if args.action == "ensure" else store.add(args.name, args.role)
    if key is None:
        print(f"client {args.name!r} already has a key (it was shown when created; 'modelwatch keys add' makes another)")
        return 0
    print(f"API key for {args.name} ({args.role}); it is shown only now:\n{key}")
    return 0
