"""Settings of every dondoc process, from ``DONDOC_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_TOKEN_SECRET = 16


class MissingSecret(RuntimeError):
    """A secret the process must be given (never one it makes up): it refuses to start, saying which."""


class MissingTokenSecret(MissingSecret):
    def __init__(self) -> None:
        super().__init__(
            "DONDOC_TOKEN_SECRET is not set: a service signs and checks agency tokens with it and will not start "
            f"without it. Set it to the same random value (at least {MIN_TOKEN_SECRET} characters, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`) for every service of the "
            "installation, from a secret store. The local stack (`dondoc up`) makes one by itself. / "
            "Chưa đặt DONDOC_TOKEN_SECRET: dịch vụ không khởi động khi thiếu khóa ký mã xác thực; hãy đặt "
            "cùng một giá trị ngẫu nhiên cho mọi dịch vụ của hệ thống."
        )


DEFAULT_PORTS = {"reporting": 8000, "assignment": 8001, "progress": 8002, "alerts": 8003, "audit": 8004}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONDOC_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    # This process's Kafka principal (SASL SCRAM-SHA-512). `dondoc up` and the tests give each service its
    # own (deploy/credentials.py); no listener of dondoc's broker accepts a client without one.
    kafka_username: str = ""
    kafka_password: str = Field("", repr=False)
    # SASL_SSL instead of SASL_PLAINTEXT; the CA that signed the broker's certificate.
    kafka_tls: bool = False
    kafka_ca_file: str = ""
    # The address agency systems reach the brokers at, printed by `dondoc kafka credentials issue` (a cluster's
    # public listener); empty: kafka_bootstrap.
    kafka_agency_bootstrap: str = ""
    # Replicas of the topics dondoc makes at run time (agencies' rejection topics): 3 on a production cluster.
    topic_replication_factor: int = Field(1, ge=1)
    database_url: str = "postgresql://postgres@127.0.0.1:55432/dondoc"
    http_host: str = "127.0.0.1"
    reporting_port: int = DEFAULT_PORTS["reporting"]
    assignment_port: int = DEFAULT_PORTS["assignment"]
    progress_port: int = DEFAULT_PORTS["progress"]
    alerts_port: int = DEFAULT_PORTS["alerts"]
    audit_port: int = DEFAULT_PORTS["audit"]

    log_format: str = Field("auto", pattern="^(auto|json|console)$")
    log_level: str = "INFO"

    # Keys the audit chain and signs its checkpoints (services/audit): held by the audit service and by
    # inspectors, never by PostgreSQL, so someone who can write the database cannot forge a link. No
    # default: the audit service refuses to start without it. `dondoc up` makes one per installation.
    audit_key: str = ""
    # The audit schema is written by its own database role (owner of that schema only), so no other
    # service's credentials can write it; empty: database_url (a single-role external server).
    audit_database_url: str = ""
    # The audit service publishes a signed checkpoint (count, head hash, offsets) after this many events,
    # and at least this often while events keep coming.
    audit_checkpoint_every: int = Field(1000, ge=1)
    audit_checkpoint_interval_s: float = Field(60.0, gt=0)

    # Consumers: a failing message is retried this many times, then dead-lettered.
    handler_attempts: int = Field(3, ge=1)
    handler_retry_backoff_s: float = Field(0.2, ge=0)
    # Records per fetch. A service that applies runs (runtime/consuming.py) writes each partition's share
    # of a fetch in one transaction: larger fetches drain a backlog in fewer, larger transactions
    # (docs/performance.md: reporting 0.09× → 0.23× the raw consumer going from 200 to 1000).
    consumer_batch_size: int = Field(1000, ge=1, le=10_000)
    # Longest run of a partition one transaction applies: a longer share of a fetch is applied run after run,
    # the next run decoded while PostgreSQL writes the one before (runtime/consuming.py). 0: one run.
    consumer_run_size: int = Field(500, ge=0, le=10_000)
    # Records per batch of `dondoc replay`: nobody waits for one event there, so batches (and the
    # transactions of their runs) can be longer than a live consumer's.
    replay_batch_size: int = Field(5000, ge=1, le=50_000)
    # How long an idle consumer waits for records before FastStream naps as long: bounds the extra
    # latency of a record that arrives while it naps.
    consumer_idle_wait_ms: int = Field(20, ge=1)
    # Connections each service keeps for its own work; its consumer's lanes get theirs on top.
    db_pool_size: int = Field(10, ge=2)
    relay_batch_size: int = Field(500, ge=1)
    # The relay is woken by NOTIFY; this is only the fallback poll.
    relay_poll_interval_s: float = Field(1.0, gt=0)
    timer_poll_interval_s: float = Field(0.5, gt=0)
    timer_lease_s: float = Field(30.0, gt=0)

    # Signs agency tokens; every service of one installation shares it. No default: a service refuses to
    # start without it (require_token_secret). The local stack (`dondoc up`, the CLI) makes one per
    # installation in its state folder (deploy/stack.py); the tests, one per session.
    token_secret: str = Field("", description="DONDOC_TOKEN_SECRET, at least 16 characters")
    token_ttl_days: int = Field(90, ge=1, le=3650, description="How long an issued agency token works")

    # People sign in with an OpenID Connect provider (Keycloak in the local stack, any provider in
    # production): services accept its access tokens, verified against its published keys. Empty: only
    # agency tokens (machine callers) are accepted.
    oidc_issuer: str = ""
    oidc_audience: str = "dondoc"
    oidc_client_id: str = "dondoc-dashboard"

    # Shifts the domain clock by this many seconds, the same in every process, so an end-to-end
    # run can "live" just before a deadline. Never set in production.
    clock_offset_s: float = 0.0

    @field_validator("token_secret")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < MIN_TOKEN_SECRET:
            raise ValueError(f"DONDOC_TOKEN_SECRET must be at least {MIN_TOKEN_SECRET} characters")
        return value

    def require_token_secret(self) -> None:
        """A service signs and checks tokens with the secret: without one it must not start, rather than
        sign with a default anyone can read here, or with a secret of its own no other service shares."""
        if not self.token_secret:
            raise MissingTokenSecret()

    def port_of(self, service: str) -> int:
        """The HTTP port of one of the five services (0, any free port, for another, e.g. in tests)."""
        return int(getattr(self, f"{service}_port", 0))

    def url_of(self, service: str) -> str:
        return f"http://{self.http_host}:{self.port_of(service)}"

    def database_url_of(self, service: str) -> str:
        """The URL a service connects with: its own role's where one is set (audit), else the shared one."""
        return str(getattr(self, f"{service}_database_url", "") or self.database_url)


@lru_cache
def get_settings() -> Settings:
    return Settings()
