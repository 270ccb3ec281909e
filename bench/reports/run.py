"""``dondoc bench reports``: seed a large read model, run the reporting service on it, time the summary.

The bench uses its own database (``dondoc_bench``) on the local PostgreSQL, so it never touches the
real reporting schema; the seeded data is kept and reused while its size is the same.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from bench.reports import seed
from events.reports import CATEGORIES
from services.reporting.bootstrap import DEFINITION
from services.runtime import db

BENCH_DATABASE = "dondoc_bench"
MIGRATIONS = DEFINITION.migrations  # the reporting service's own, whatever folder this bench lives in


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _seeded(url: str) -> tuple[int, int] | None:
    """(tasks, layout) of the seeded bench database, None when there is none."""
    try:
        conn = await asyncpg.connect(url, server_settings={"search_path": "reporting"})
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        if not await conn.fetchval("SELECT to_regclass('reporting.bench_meta') IS NOT NULL"):
            return None
        columns = {
            r["attname"]
            for r in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'reporting.bench_meta'::regclass AND attnum > 0"
            )
        }
        if "layout" not in columns:
            return (0, 0)
        row = await conn.fetchrow("SELECT tasks, layout FROM bench_meta")
        return (row["tasks"], row["layout"]) if row else None
    finally:
        await conn.close()


async def prepare(base_url: str, tasks: int, reuse: bool, progress: Callable[[str], None]) -> tuple[str, float]:
    url = _with_database(base_url, BENCH_DATABASE)
    seeded = await _seeded(url)
    admin = await asyncpg.connect(base_url)
    try:
        if seeded is not None and seeded[1] != seed.LAYOUT:
            progress(f"the bench database {BENCH_DATABASE} has an older layout: seeding it afresh")
            await admin.execute(f'DROP DATABASE "{BENCH_DATABASE}" WITH (FORCE)')
            seeded = None
        if not await admin.fetchval("SELECT true FROM pg_database WHERE datname = $1", BENCH_DATABASE):
            await admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await admin.close()
    pool = await db.create_pool(url, "reporting", min_size=1, max_size=2)
    seconds = 0.0
    try:
        await db.migrate(pool, "reporting", {"runtime": db.RUNTIME_MIGRATIONS, "reporting": MIGRATIONS})
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (tasks int NOT NULL, layout int NOT NULL)")
            if not (reuse and seeded == (tasks, seed.LAYOUT)):
                started = time.perf_counter()
                await seed.seed(conn, tasks, progress)
                await conn.execute("TRUNCATE bench_meta")
                await conn.execute("INSERT INTO bench_meta VALUES ($1, $2)", tasks, seed.LAYOUT)
                seconds = time.perf_counter() - started
            else:
                progress(f"reusing the seeded {tasks:,} tasks in database {BENCH_DATABASE}")
            counts = {
                r["bucket"]: r["n"] for r in await conn.fetch("SELECT bucket, count(*) AS n FROM tasks GROUP BY 1")
            }
            progress(f"tasks by bucket: {counts}")
    finally:
        await pool.close()
    return url, seconds


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "n": len(samples),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(samples) * 1000, 1),
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _time(client: httpx.Client, path: str, params: dict[str, str], count: int) -> tuple[dict[str, Any], Any]:
    samples, body = [], None
    load_before = _load()
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        body = response.json()
    return {**_stats(samples), "load_avg_before": load_before, "load_avg_after": _load()}, body


def run_bench(
    *, tasks: int, requests: int, as_of_requests: int, reuse: bool, progress: Callable[[str], None]
) -> dict[str, Any]:
    from deploy import stack
    from deploy.credentials import service_env
    from services.runtime import logs

    logs.configure("bench", "WARNING")  # stdout is the result, as JSON
    endpoints = stack.infra_up(on_progress=progress)
    url, seed_seconds = asyncio.run(prepare(endpoints.database_url, tasks, reuse, progress))
    port = _free_port()
    env = {
        **os.environ,
        "DONDOC_DATABASE_URL": url,
        "DONDOC_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "DONDOC_REPORTING_PORT": str(port),
        "DONDOC_BENCH_NOW": seed.NOW.isoformat(),
        "DONDOC_LOG_LEVEL": "WARNING",
        **service_env("reporting"),  # the server runs as the reporting service's own Kafka principal
    }
    server = subprocess.Popen([sys.executable, "-m", "bench.reports.server"], env=env)
    timings: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the bench reporting service did not start")
                time.sleep(0.2)  # polling readiness with a deadline
            memory_idle = _memory_kib(server.pid)
            progress("warming up")
            _time(client, "/v1/reports/summary", {}, 5)
            biggest = client.get("/v1/reports/summary").json()["by_document"][0]["document"]
            plan: list[tuple[str, dict[str, str], int]] = [
                ("whole_tree_summary", {}, requests),
                ("province_subtree_summary", {"agency_id": "t1"}, max(10, requests // 4)),
                ("department_subtree_summary", {"agency_id": "t1-s1"}, max(10, requests // 4)),
                ("one_document_summary", {"document": biggest}, max(10, requests // 4)),
                ("whole_tree_as_of_2022_06_30", {"as_of": "2022-06-30"}, as_of_requests),
                ("whole_tree_as_of_2020_12_31", {"as_of": "2020-12-31"}, as_of_requests),
                ("whole_tree_as_of_instant", {"as_of": "2021-09-15T14:30:00+07:00"}, as_of_requests),
                ("province_as_of_2022_06_30", {"agency_id": "t1", "as_of": "2022-06-30"}, as_of_requests),
            ]
            bodies: dict[str, Any] = {}
            for name, params, count in plan:
                progress(f"timing {count} × {name}")
                timings[name], bodies[name] = _time(client, "/v1/reports/summary", params, count)
            progress("timing the trend (12 month ends)")
            timings["whole_tree_trend_12_months"], _ = _time(client, "/v1/reports/trend", {}, max(3, as_of_requests))
            memory = _memory_kib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    body = bodies["whole_tree_summary"]
    whole = timings["whole_tree_summary"]
    as_of_max = max(timings[k]["max_ms"] for k in timings if "as_of" in k and k.startswith("whole_tree"))
    return {
        "tasks": tasks,
        "seeded_in_s": round(seed_seconds, 1) if seed_seconds else "reused",
        "now": seed.NOW.isoformat(),
        "targets": {
            "whole_tree_summary_p95_ms": {"target": 50, "measured": whole["p95_ms"], "met": whole["p95_ms"] < 50},
            "as_of_summary_max_ms": {"target": 2000, "measured": as_of_max, "met": as_of_max < 2000},
        },
        "timings": timings,
        "reporting_service_memory_mib": {
            "idle_rss": round(memory_idle.get("VmRSS", 0) / 1024, 1),
            "rss_after": round(memory.get("VmRSS", 0) / 1024, 1),
            "peak_rss": round(memory.get("VmHWM", 0) / 1024, 1),
        },
        "figures_now": {k: body["figures"][k] for k in CATEGORIES},
        "overdue_share_now": body["figures"]["overdue_share"]["text"],
        "ageing_now": {b["band"]: b["count"] for b in body["ageing"]},
        "key_tasks_now": {k: body["key_tasks"][k] for k in CATEGORIES},
        "figures_as_of_2022_06_30": {k: bodies["whole_tree_as_of_2022_06_30"]["figures"][k] for k in CATEGORIES},
        "paragraph_vi": body["paragraph_vi"],
    }
