"""`dealgraph keys create|list|revoke|token`: API keys and test tokens for the GraphQL API.

    dealgraph keys create --role rep --rep 0055g00002evP1wAAE --name "Rita's CRM widget"
    dealgraph keys create --role admin --expires-in-days 30
    dealgraph keys list
    dealgraph keys revoke 3f9c2a1b7d4e
    dealgraph keys token --role revops --sub ops-dashboard --ttl 3600   # HS256, needs DEALGRAPH_JWT_SECRET
"""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime, timedelta

from api.auth import KeyStore, Role, mint_token
from api.settings import FRAME_NONE, Settings
from graph import InvalidInput, open_store
from ontology.names import Label

EXIT_OK = 0
ROLES = [r.value for r in Role]
#: The longest expiry `keys create` accepts (ten years; datetimes end at year 9999).
MAX_KEY_DAYS = 3650


def _check_rep(settings: Settings, role: Role, rep_id: str | None) -> None:
    """A rep key must name a Rep the store has: a typo would make a key that sees nothing."""
    if role is not Role.REP or not rep_id:
        return
    with open_store(settings.store, **settings.store_credentials()) as store:
        if store.get_node(Label.REP, rep_id) is None:
            raise InvalidInput(f"no Rep {rep_id!r} in the store {settings.store}; load the export first or fix the id")


def _print(args: argparse.Namespace, data: dict, text: str) -> None:
    from api.cli import out

    out(args, data, text)


def create_key(
    settings: Settings, role: Role, *, rep_id: str | None = None, name: str = "", team_scope: bool = False,
    expires_in_days: float | None = None,
) -> tuple[dict, str]:
    """Create a key after checking the Rep exists; returns (its public record, the key)."""
    if expires_in_days is not None and not (math.isfinite(expires_in_days) and 0 < expires_in_days <= MAX_KEY_DAYS):
        # 0 would make a key that is expired as it is printed; a negative one, expired already.
        raise InvalidInput(f"--expires-in-days must be more than 0 and at most {MAX_KEY_DAYS} "
                           f"(got {expires_in_days:g}); leave it out for a key that never expires")
    _check_rep(settings, role, rep_id)
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days is not None else None
    record, key = KeyStore(settings.keys_path()).create(role, rep_id=rep_id, name=name, team_scope=team_scope,
                                                        expires_at=expires)
    return record.public(), key


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    record, key = create_key(settings, Role(args.role), rep_id=args.rep, name=args.name or "", team_scope=args.team,
                             expires_in_days=args.expires_in_days)
    team = " and their team" if record["team_scope"] else ""
    scope = f", bound to Rep {record['rep_id']}{team}" if record["rep_id"] else ""
    text = "\n".join([
        f"created {record['role']} key {record['id']} ({record['name']}){scope}",
        f"expires: {record['expires_at'] or 'never'}",
        "",
        f"    {key}",
        "",
        "This is the only time the key is shown; it is stored hashed. Send it as a header:",
        f'    Authorization: Bearer {key}',
        f'In GraphiQL, open the Headers tab and paste: {{"Authorization": "Bearer {key}"}}',
    ])
    _print(args, {**record, "key": key}, text)
    return EXIT_OK


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    records = [r.public() for r in KeyStore(settings.keys_path()).list()]
    lines = [f"{'id':<13} {'role':<7} {'state':<8} {'rep':<20} {'expires':<26} name"]
    for r in records:
        rep = (r["rep_id"] or "-") + (" +team" if r["team_scope"] else "")
        lines.append(f"{r['id']:<13} {r['role']:<7} {r['state']:<8} {rep:<20} {r['expires_at'] or 'never':<26} "
                     f"{r['name']}")
    if not records:
        lines.append("(no keys yet: dealgraph keys create --role admin)")
    _print(args, {"keys": records}, "\n".join(lines))
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    record = KeyStore(settings.keys_path()).revoke(args.key_id).public()
    _print(args, record,
           f"revoked {record['role']} key {record['id']} ({record['name']}); servers refuse it within a second")
    return EXIT_OK


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    if settings.jwt_secret is None:
        raise InvalidInput("DEALGRAPH_JWT_SECRET is not set: the server would not accept an HS256 token")
    role = Role(args.role)
    if role is Role.REP and not args.rep:
        raise InvalidInput("a rep token needs --rep REP_ID")
    if role is not Role.REP and (args.rep or args.team):
        raise InvalidInput(f"--rep and --team apply to rep tokens only; a {role.value} token sees every deal")
    if not 0 < args.ttl <= settings.jwt_max_lifetime_s:
        raise InvalidInput(f"--ttl must be more than 0 and at most {settings.jwt_max_lifetime_s} seconds "
                           f"(DEALGRAPH_JWT_MAX_LIFETIME_S; got {args.ttl}): the server refuses longer-lived tokens")
    _check_rep(settings, role, args.rep)
    token = mint_token(settings.jwt_secret.get_secret_value(), subject=args.sub, role=role, rep_id=args.rep,
                       team_scope=args.team, ttl_s=args.ttl, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    _print(args, {"token": token, "role": role.value, "rep_id": args.rep, "expires_in_s": args.ttl}, token)
    return EXIT_OK


def register(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser
) -> None:
    keys = sub.add_parser("keys", parents=[common], help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True)

    def scope_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--role", required=True, choices=ROLES, help="rep: own deals only; revops, admin: everything")
        p.add_argument("--rep", help="the Rep id a rep key or token acts for (required with --role rep)")
        p.add_argument("--team", action="store_true", help="a rep also sees deals of reps in the same team")

    p = actions.add_parser("create", parents=[common, as_json], help="create a key (shown once)")
    scope_args(p)
    p.add_argument("--name", help="what the key is for (shown in `keys list`)")
    p.add_argument("--expires-in-days", type=float, help="the key stops working after this many days (default never)")
    p.set_defaults(fn=cmd_create)
    p = actions.add_parser("list", parents=[common, as_json], help="list keys (never their secrets)")
    p.set_defaults(fn=cmd_list)
    p = actions.add_parser("revoke", parents=[common, as_json], help="revoke a key by id")
    p.add_argument("key_id")
    p.set_defaults(fn=cmd_revoke)
    p = actions.add_parser("token", parents=[common, as_json], help="mint an HS256 JWT with DEALGRAPH_JWT_SECRET")
    scope_args(p)
    p.add_argument("--sub", default="dealgraph-cli", help="the token's subject (shown in logs)")
    p.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    p.set_defaults(fn=cmd_token)


DEMO_KEY_NAME = "demo admin (dealgraph demo)"


def graphiql_hint(key: str) -> str:
    return f'In GraphiQL, open the Headers tab (bottom left) and paste: {{"Authorization": "Bearer {key}"}}'


def demo_key(settings: Settings) -> str:
    """A fresh admin key for the demo, replacing the previous demo's (its secret cannot be shown again)."""
    if settings.auth == "off":
        return "authentication is off (DEALGRAPH_AUTH=off, development): no key needed"
    keys = KeyStore(settings.keys_path())
    for old in keys.list():
        if old.name == DEMO_KEY_NAME and old.state() == "active":
            keys.revoke(old.id)
    record, key = keys.create(Role.ADMIN, name=DEMO_KEY_NAME)
    return "\n".join([
        f"admin API key {record.id} (shown once; the previous demo key is revoked):",
        f"    {key}",
        graphiql_hint(key),
        f"curl: curl -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
        f"-d '{{\"query\": \"{{ viewer {{ role }} }}\"}}' http://{settings.host}:{settings.port}/graphql",
        "Keys for reps (they see only their own deals): dealgraph keys create --role rep --rep REP_ID",
    ])


def serve_banner(settings: Settings) -> str:
    """What `serve` says about authentication before it starts."""
    if settings.auth == "off":
        return "WARNING: authentication is OFF (DEALGRAPH_AUTH=off): every request reads everything. Development only."
    active = [r for r in KeyStore(settings.keys_path()).list() if r.state() == "active"]
    if not active and settings.jwt_secret is None and settings.jwt_public_key is None:
        return ("No API keys yet, so every request will get 401. Create one (shown once):\n"
                "    dealgraph keys create --role admin\n"
                "and send it as `Authorization: Bearer <key>` (GraphiQL: Headers tab).")
    count = f"{len(active)} active key{'' if len(active) == 1 else 's'}"
    return (f"Requests need `Authorization: Bearer <API key or JWT>` ({count}: dealgraph keys list).\n"
            + graphiql_hint("<key>"))


def widget_banner(settings: Settings) -> str:
    """What `serve` says about who may frame the CRM widget."""
    if settings.widget_frame_ancestors == [FRAME_NONE]:
        return ("CRM widget (/widget/account/ID): no page may frame it yet. To embed it in your CRM, list its "
                "origins:\n"
                "    DEALGRAPH_WIDGET_FRAME_ANCESTORS='[\"https://acme.lightning.force.com\"]'  (docs/widget.md)")
    return f"CRM widget (/widget/account/ID): may be framed by {' '.join(settings.widget_frame_ancestors)}"
