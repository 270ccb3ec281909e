"""Settings of every dondoc process, from ``DONDOC_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    # Consumers: a failing message is retried this many times, then dead-lettered.
    handler_attempts: int = Field(3, ge=1)
    handler_retry_backoff_s: float = Field(0.2, ge=0)
    consumer_batch_size: int = Field(200, ge=1)
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

    # Signs agency tokens; every service of one installation shares it. `dondoc up` makes one.
    token_secret: str = Field("dev-only-insecure-secret", min_length=16)

    # Shifts the domain clock by this many seconds, the same in every process, so an end-to-end
    # run can "live" just before a deadline. Never set in production.
    clock_offset_s: float = 0.0

    def port_of(self, service: str) -> int:
        """The HTTP port of one of the five services (0, any free port, for another, e.g. in tests)."""
        return int(getattr(self, f"{service}_port", 0))

    def url_of(self, service: str) -> str:
        return f"http://{self.http_host}:{self.port_of(service)}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
