"""``dondoc up``: the whole local stack as child processes, stopped together on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from deploy.credentials import service_env
from events.clock import VN_TZ
from events.topics import SERVICES
from services.cli.log_rotation import limits_from_env, rotate_logs
from services.cli.supervisor import GaveUp, Supervisor
from services.runtime.settings import get_settings

READY_TIMEOUT_S = 90.0


def service_command(name: str) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", "service", name]


def start_services(env: dict[str, str], log_dir: Path) -> dict[str, subprocess.Popen[bytes]]:
    return {name: start_service(name, env, log_dir) for name in SERVICES}


def start_service(name: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = (log_dir / f"{name}.log").open("ab")
    # Each service gets its own Kafka principal, and only its own password (deploy/credentials.py).
    own = {**env, **service_env(name)}
    return subprocess.Popen(
        service_command(name), env=own, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_ready(urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for name, url in list(pending.items()):
                if procs[name].poll() is not None:
                    raise RuntimeError(f"service {name} exited with code {procs[name].returncode}; see its log")
                try:
                    if client.get(f"{url}/readyz").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"services not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.2)  # polling a condition with a deadline, not waiting blindly


# A stopping service: HTTP requests (GRACEFUL_HTTP_S, 5 s), the consumer's batch in hand (its broker's
# graceful timeout, 30 s at worst), then the relay's drain (RELAY_DRAIN_S, 10 s). Killing sooner turns a
# clean stop into a crash: nothing is lost, but the relay's last batch is published again.
STOP_BUDGET_S = 50.0


def stop_services(procs: dict[str, subprocess.Popen[bytes]], timeout: float = STOP_BUDGET_S) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs.values():
        try:
            proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _live_on(day: date, console: Console) -> None:
    """Shift the domain clock of this process and of the services it starts to ``day``, 09:00."""
    if "DONDOC_CLOCK_OFFSET_S" in os.environ:
        return  # the operator chose a clock already
    offset = datetime.combine(day, dt_time(9, 0), tzinfo=VN_TZ) - datetime.now(VN_TZ)
    os.environ["DONDOC_CLOCK_OFFSET_S"] = str(offset.total_seconds())
    get_settings.cache_clear()
    console.print(f"[yellow]Demo clock: the stack lives on {day:%d/%m/%Y} (--demo-day today for the real date).[/]")


def run_stack(console: Console, *, demo: bool, demo_day: date | None = None) -> int:
    from deploy import stack

    try:
        log_max_bytes, log_keep = limits_from_env()  # before anything starts: a bad value starts nothing
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return 2

    if demo and demo_day is not None:
        _live_on(demo_day, console)

    # Ctrl-C, and SIGTERM from a supervisor, both stop everything in order. SIGINT is set
    # explicitly because a shell starting us in the background may have set it to "ignore".
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        with console.status("Starting Kafka and PostgreSQL…") as status:
            endpoints = stack.infra_up(on_progress=lambda msg: status.update(msg))
    except BaseException:
        # Whatever started before the failure (or Ctrl-C) is ours to stop: `up` leaves nothing behind.
        stack.infra_down()
        raise
    env = {
        **os.environ,
        "DONDOC_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "DONDOC_DATABASE_URL": endpoints.database_url,
        "DONDOC_TOKEN_SECRET": stack.token_secret(),
        "DONDOC_AUDIT_KEY": stack.audit_key(),
    }
    if endpoints.audit_database_url:  # the local server: the audit service writes as its own role
        env["DONDOC_AUDIT_DATABASE_URL"] = endpoints.audit_database_url
    settings = get_settings()
    urls = {name: settings.url_of(name) for name in SERVICES}
    people = _identity(console, stack, f"{urls['reporting']}/")
    if people is not None:
        env["DONDOC_OIDC_ISSUER"] = people.issuer
    logs = stack.state_home() / "logs"
    procs = start_services(env, logs)
    try:
        with console.status("Starting the five services…"):
            wait_ready(urls, procs, READY_TIMEOUT_S)
        console.print(f"[green]Stack ready in {time.monotonic() - started:.1f}s[/]")
        if demo:
            from services.cli.demo import load_demo

            load_demo(console, urls)
            if people is not None:
                _print_demo_accounts(console, people, stack.state_home())
        _print_urls(console, urls, stack.state_home() / "logs")
        next_access_sync = 0.0
        # A service that dies is started again (same dict: the stop below stops what runs then).
        supervisor = Supervisor(procs, lambda name: start_service(name, env, logs))  # type: ignore[arg-type]  # dict is invariant; a Popen is a Process
        log_files = [logs / f"{name}.log" for name in SERVICES]
        while True:
            rotate_logs(log_files, log_max_bytes, log_keep)
            if time.monotonic() >= next_access_sync:
                _revoke_inactive_agencies(console, endpoints)
                if people is not None and people.provider_url is not None:
                    _follow_directory(console, stack)
                next_access_sync = time.monotonic() + ACCESS_SYNC_EVERY_S
            try:
                for line in supervisor.tick():
                    console.print(f"[yellow]{line}[/]")
            except GaveUp as exc:
                console.print(f"[red]{exc}; see its log in {logs}/; stopping the stack[/]")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("Stopping…")
        return 0
    finally:
        stop_services(procs)
        stack.infra_down()
        console.print(
            f"Stopped: services, Kafka, PostgreSQL and the identity provider (data kept in {stack.state_home()})."
        )


def _identity(console: Console, stack: Any, dashboard: str) -> Any:
    """The identity provider people sign in with; without one (it would not start) the stack still runs,
    for machine callers with agency tokens, and says so."""
    try:
        with console.status("Starting the identity provider (Keycloak)…") as status:
            return stack.identity_up([dashboard], on_progress=lambda msg: status.update(msg))
    except Exception as exc:
        console.print(f"[yellow]Sign-in for people is off: the identity provider did not start ({exc}).[/]")
        return None


def _follow_directory(console: Console, stack: Any) -> None:
    """People who moved, left or whose agency was abolished: the provider's accounts follow the directory."""
    from deploy.identity import follow_directory_now

    try:
        if follow_directory_now(stack.state_home(), stack.keycloak_node()):
            console.print("[yellow]Sign-in accounts updated from the directory.[/]")
    except Exception as exc:  # the next round tries again; the stack keeps running
        console.print(f"[yellow]Could not bring sign-in accounts in step with the directory: {exc}[/]")


# Demo people worth signing in as: the task 13 chain of the seeds (school officer, Sở GDĐT head, province head).
DEMO_PEOPLE = ("p-bd-thpt-binh-duong-officer-1", "p-bd-sgddt-head", "p-ubnd-bd-head")


def _print_demo_accounts(console: Console, people: Any, home: Path) -> None:
    from deploy.identity import demo_passwords

    passwords = demo_passwords(home, list(DEMO_PEOPLE))
    console.print("\n[bold]Đăng nhập (demo, invented people)[/] on the dashboard with:")
    for person in DEMO_PEOPLE:
        console.print(f"  {person:<32} {passwords[person]}", soft_wrap=True)
    console.print(f"  every demo account and its password: {home / 'demo-accounts.json'} (this machine only)")


ACCESS_SYNC_EVERY_S = 30.0
"""How often the launcher revokes the Kafka credentials of agencies the directory made inactive."""


def _revoke_inactive_agencies(console: Console, endpoints: Any) -> None:
    """The launcher holds the admin's credentials, the services do not (least privilege): it is the one that
    revokes an abolished or merged agency's Kafka user, as the production ACL job does."""
    import asyncio

    from deploy.acls import revoke_inactive
    from deploy.stack import kafka_admin
    from services.cli.kafka_cli import directory_standing

    try:
        standing = asyncio.run(directory_standing())
        if standing is not None and (revoked := revoke_inactive(kafka_admin(endpoints.kafka_bootstrap), standing)):
            console.print(f"[yellow]Kafka credentials revoked (inactive in the directory): {', '.join(revoked)}[/]")
    except Exception as exc:  # the next round tries again; the stack keeps running
        console.print(f"[yellow]Could not check agencies' Kafka credentials: {exc}[/]")


def _print_urls(console: Console, urls: dict[str, str], logs: Path) -> None:
    console.print(f"\n[bold]Dashboard[/]  {urls['reporting']}/")
    for name, url in urls.items():
        console.print(f"  {name:<11} API docs {url}/docs")
    console.print(f"  logs        {logs}/\nPress Ctrl-C to stop everything.")
