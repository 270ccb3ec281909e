"""``dondoc kafka …``: agencies' Kafka credentials, the ACL table, parked outbox rows.

* ``credentials issue AGENCY_ID [--format json|properties]`` — create or rotate the agency's SCRAM user,
  its rejections topic and its ACLs (events/kafka_access.py); print the client settings. json keys are
  aiokafka keyword arguments.
* ``credentials revoke AGENCY_ID`` / ``credentials list`` / ``credentials sync`` — sync revokes the
  credentials of every agency the directory says is no longer active (abolished, merged): the operator's
  right (it needs the admin principal), run by ``dondoc up`` and by the production ACL job.
* ``check FILE`` — try a credentials file (as issued) and say in one line whether Kafka takes it.
* ``acls [--markdown]`` — the table; ``parked SERVICE [--retry ID]`` — outbox rows Kafka would not take.

They act as the installation's admin principal (``DONDOC_KAFKA_USERNAME`` may name another).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)
out = Console()

kafka_app = typer.Typer(no_args_is_help=True, help="Kafka access: agencies' credentials, ACLs, parked outbox rows.")
credentials_app = typer.Typer(no_args_is_help=True, help="Agencies' Kafka credentials (SASL SCRAM-SHA-512).")
kafka_app.add_typer(credentials_app, name="credentials")

_AGENCY_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def register(app: typer.Typer) -> None:
    app.add_typer(kafka_app, name="kafka")


def _fail(vi: str, en: str, code: int = 1) -> typer.Exit:
    """One line, Vietnamese then English."""
    err.print(f"[red]{vi}[/] — {en}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def _settings() -> Any:
    """This process's settings; without DONDOC_KAFKA_BOOTSTRAP, the local broker of `dondoc infra up`
    (on DONDOC_KAFKA_PORT)."""
    from services.runtime.settings import get_settings

    settings = get_settings()
    if not os.environ.get("DONDOC_KAFKA_BOOTSTRAP"):
        from deploy.stack import kafka_node

        settings = settings.model_copy(update={"kafka_bootstrap": kafka_node().bootstrap})
    return settings


def _admin() -> Any:
    """The operator's settings, once Kafka has taken its login; otherwise one line saying why not."""
    from services.runtime.kafka_config import KafkaLoginRefused, check_login

    settings = _settings()
    try:
        asyncio.run(check_login(settings))
    except KafkaLoginRefused as exc:
        raise _fail(
            f"Kafka từ chối đăng nhập của {settings.kafka_username!r} (sai, thiếu hoặc đã thu hồi mật khẩu)",
            str(exc),
            2,
        ) from exc
    except ConnectionError as exc:
        raise _fail(
            f"Không kết nối được Kafka tại {settings.kafka_bootstrap} (chạy `dondoc infra up`?)", str(exc), 2
        ) from exc
    return settings


def _agency(agency_id: str) -> str:
    if not _AGENCY_ID.fullmatch(agency_id):
        raise _fail(
            f"Mã cơ quan {agency_id!r} không hợp lệ: chỉ chữ thường, số, '.', '_', '-' (tối đa 100 ký tự)",
            f"agency id {agency_id!r} is invalid: lowercase letters, digits, '.', '_', '-' (at most 100)",
            2,
        )
    return agency_id


def _access_failed(exc: Exception) -> typer.Exit:
    return _fail("Không thay đổi được quyền truy cập Kafka", str(exc), 1)


async def directory_standing(agency_ids: list[str] | None = None) -> dict[str, bool] | None:
    """agency id -> active, from the assignment service's directory; None if the database is unreachable."""
    from deploy.stack import database_url
    from services.assignment.provision import directory_now

    directory = await directory_now(database_url())
    if directory is None:
        return None
    return {str(a["agency_id"]): bool(a["active"]) for a in directory["agencies"]}


def client_settings(settings: Any, username: str, password: str) -> dict[str, str]:
    """What an agency's client needs, as aiokafka keyword arguments."""
    from services.runtime.kafka_config import SASL_MECHANISM, security_protocol

    found = {
        "bootstrap_servers": settings.kafka_agency_bootstrap or settings.kafka_bootstrap,
        "security_protocol": security_protocol(settings),
        "sasl_mechanism": SASL_MECHANISM,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
    }
    if settings.kafka_tls:
        # aiokafka wants an SSLContext: aiokafka.helpers.create_ssl_context(cafile=...) (see README).
        found["ssl_cafile"] = settings.kafka_ca_file
    return found


def as_properties(found: dict[str, str]) -> str:
    """A Java client's properties file; librdkafka's keys follow, commented."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{found["sasl_plain_username"]}" password="{found["sasl_plain_password"]}";'
    )
    lines = [
        f"bootstrap.servers={found['bootstrap_servers']}",
        f"security.protocol={found['security_protocol']}",
        f"sasl.mechanism={found['sasl_mechanism']}",
        f"sasl.jaas.config={jaas}",
    ]
    if cafile := found.get("ssl_cafile"):
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={cafile}"]
    lines += [
        "# librdkafka (confluent-kafka, kcat) instead of sasl.jaas.config / ssl.truststore.*:",
        f"# sasl.username={found['sasl_plain_username']}",
        f"# sasl.password={found['sasl_plain_password']}",
    ]
    if cafile:
        lines.append(f"# ssl.ca.location={cafile}")
    return "\n".join(lines) + "\n"


@credentials_app.command("issue")
def issue(
    agency_id: Annotated[str, typer.Argument(help="The agency's id in the directory, e.g. ubnd-bd")],
    fmt: Annotated[str, typer.Option("--format", help="json (aiokafka keyword arguments) or properties")] = "json",
) -> None:
    """Create (or rotate) the agency's Kafka user; print its client settings. A new password each time."""
    from deploy.acls import grant_agency
    from deploy.errors import InfraError
    from events.kafka_access import agency_principal

    if fmt not in ("json", "properties"):
        raise _fail(f"--format {fmt!r} không hợp lệ: dùng json hoặc properties", "use --format json or properties", 2)
    _agency(agency_id)
    standing = asyncio.run(directory_standing())
    if standing is not None and not standing.get(agency_id, False):
        state = "không còn hoạt động" if agency_id in standing else "không có trong danh bạ"
        raise _fail(
            f"Cơ quan {agency_id!r} {state}: không cấp thông tin đăng nhập Kafka",
            f"{agency_id!r} is not an active agency of the directory: no Kafka credentials issued",
            1,
        )
    settings = _admin()
    try:
        password = grant_agency(settings, agency_id, settings.topic_replication_factor)
    except InfraError as exc:
        raise _access_failed(exc) from exc
    found = client_settings(settings, agency_principal(agency_id), password)
    sys.stdout.write(json.dumps(found, indent=2) + "\n" if fmt == "json" else as_properties(found))
    err.print(
        f"[green]Issued Kafka credentials of {agency_principal(agency_id)}[/] (an earlier password no longer works)"
    )


@credentials_app.command("revoke")
def revoke(agency_id: Annotated[str, typer.Argument(help="The agency's id")]) -> None:
    """Delete the agency's Kafka user and ACLs: new connections are refused at once, without a broker restart."""
    from deploy.acls import revoke_agency
    from deploy.errors import InfraError
    from events.kafka_access import agency_principal

    _agency(agency_id)
    settings = _admin()
    try:
        had = revoke_agency(settings, agency_id)
    except InfraError as exc:
        raise _access_failed(exc) from exc
    if not had:
        raise _fail(f"{agency_id!r} không có thông tin đăng nhập Kafka", f"{agency_id!r} has no Kafka credentials", 1)
    err.print(f"[green]Revoked the Kafka credentials of {agency_principal(agency_id)}[/]")


@credentials_app.command("list")
def list_credentials() -> None:
    """Agencies holding Kafka credentials, with their standing in the directory."""
    from deploy.acls import agency_users
    from deploy.errors import InfraError
    from events.kafka_access import AGENCY_PRINCIPAL_PREFIX

    settings = _admin()
    try:
        users = agency_users(settings)
    except InfraError as exc:
        raise _access_failed(exc) from exc
    standing = asyncio.run(directory_standing()) or {}
    table = Table("agency", "principal", "directory")
    for user in users:
        agency = user.removeprefix(AGENCY_PRINCIPAL_PREFIX)
        active = standing.get(agency)
        state = "[yellow]unknown[/]" if active is None else "active" if active else "[red]inactive[/]"
        table.add_row(agency, user, state)
    out.print(table)


@credentials_app.command("sync")
def sync() -> None:
    """Revoke the Kafka credentials of agencies the directory says are no longer active (abolished, merged)."""
    from deploy.acls import revoke_inactive
    from deploy.errors import InfraError

    standing = asyncio.run(directory_standing())
    if standing is None:
        raise _fail("Không đọc được danh bạ (PostgreSQL)", "cannot read the directory (PostgreSQL unreachable)", 2)
    settings = _admin()
    try:
        revoked = revoke_inactive(settings, standing)
    except InfraError as exc:
        raise _access_failed(exc) from exc
    err.print(f"Revoked: {', '.join(revoked) or 'none'}")


@kafka_app.command("check")
def check(
    path: Annotated[str, typer.Argument(help="A credentials file as `credentials issue --format json` printed")],
) -> None:
    """Try a credentials file: one line saying whether Kafka takes it."""
    from services.runtime.kafka_config import KafkaLoginRefused, check_login
    from services.runtime.settings import Settings

    try:
        with open(path, encoding="utf-8") as f:
            found = json.load(f)
        settings = Settings(
            kafka_bootstrap=found["bootstrap_servers"],
            kafka_username=found["sasl_plain_username"],
            kafka_password=found["sasl_plain_password"],
            kafka_tls=found.get("security_protocol") == "SASL_SSL",
            kafka_ca_file=found.get("ssl_cafile", ""),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _fail(
            f"Tệp {path} không phải tệp thông tin đăng nhập Kafka (JSON của `credentials issue`)",
            f"{path} is not a Kafka credentials file as `dondoc kafka credentials issue` prints ({exc!r})",
            2,
        ) from exc
    try:
        asyncio.run(check_login(settings))
    except KafkaLoginRefused as exc:
        raise _fail(f"Kafka từ chối {settings.kafka_username!r}: sai hoặc đã thu hồi mật khẩu", str(exc), 1) from exc
    except ConnectionError as exc:
        raise _fail(f"Không kết nối được Kafka tại {settings.kafka_bootstrap}", str(exc), 2) from exc
    out.print(f"Kafka accepts {settings.kafka_username!r} at {settings.kafka_bootstrap}")


@kafka_app.command("acls")
def acls(
    markdown: Annotated[bool, typer.Option("--markdown", help="As the table in docs/kafka-security.md")] = False,
) -> None:
    """The ACL table every service principal gets (events/kafka_access.py)."""
    from events.kafka_access import render_markdown

    if markdown:
        sys.stdout.write(render_markdown())
        return
    from events.kafka_access import SERVICE_GRANTS

    table = Table("principal", "operation", "resource", "name", "pattern", "why")
    for g in SERVICE_GRANTS:
        table.add_row(g.principal, g.operation.upper(), g.resource, g.name, g.pattern, g.why)
    out.print(table)


@kafka_app.command("parked")
def parked(
    service: Annotated[str, typer.Argument(help="The service whose outbox to look at")],
    retry: Annotated[
        int | None, typer.Option("--retry", help="Send this parked row again (once its cause is fixed)")
    ] = None,
) -> None:
    """Outbox rows the relay set aside because Kafka would not take them (too large, not allowed…)."""
    from events.topics import SERVICES

    if service not in SERVICES:
        raise _fail(f"Không có dịch vụ {service!r}", f"no service {service!r}; one of: {', '.join(SERVICES)}", 2)
    import asyncpg

    try:
        rows = asyncio.run(_parked(service, retry))
    except asyncpg.UndefinedTableError as exc:
        raise _fail(f"Dịch vụ {service} chưa chạy lần nào (chưa có outbox)", f"{service} has no outbox yet", 1) from exc
    except (OSError, asyncpg.PostgresError) as exc:
        raise _fail(
            "Không kết nối được PostgreSQL (chạy `dondoc infra up`?)", f"cannot read the outbox: {exc}", 2
        ) from exc
    if retry is not None:
        if not rows:
            raise _fail(f"Không có dòng chờ {retry} trong {service}", f"no parked row {retry} in {service}", 1)
        err.print(f"[green]Row {retry} goes back to the relay[/]")
        return
    table = Table("id", "topic", "key", "bytes", "parked at", "reason")
    for r in rows:
        table.add_row(str(r["id"]), r["topic"], r["key"] or "", str(r["size"]), str(r["parked_at"]), r["park_reason"])
    out.print(table)


async def _parked(service: str, retry: int | None) -> list[Any]:
    import asyncpg

    from deploy.stack import database_url

    conn = await asyncpg.connect(database_url(), server_settings={"search_path": service})
    try:
        if retry is not None:
            return await conn.fetch(
                "UPDATE outbox SET parked_at = NULL, park_reason = NULL WHERE id = $1 AND parked_at IS NOT NULL "
                "RETURNING id",
                retry,
            )
        return await conn.fetch(
            "SELECT id, topic, key, octet_length(value) AS size, parked_at, park_reason FROM outbox "
            "WHERE parked_at IS NOT NULL AND published_at IS NULL ORDER BY id"
        )
    finally:
        await conn.close()
