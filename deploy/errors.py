"""Errors of the local infrastructure, one base class so the CLI can report them without a traceback."""

from __future__ import annotations


class InfraError(RuntimeError):
    """Kafka or PostgreSQL could not be provisioned, started, stopped or reached."""


class JarResolutionError(InfraError):
    """Maven could not resolve the Kafka jars."""


class KafkaStartError(InfraError):
    """The local broker could not be started (or died while starting)."""


class KafkaNotReadyError(InfraError, TimeoutError):
    """A broker did not answer a metadata request before the deadline."""


class PostgresError(InfraError):
    """The local PostgreSQL server could not be initialised, started, stopped or reached."""


class TopicError(InfraError):
    """A topic exists with a layout that contradicts its declaration."""


class KafkaAuthError(InfraError):
    """The broker refused a principal's credentials (unknown user, wrong or revoked password)."""


class KafkaAccessError(InfraError):
    """Users or ACLs could not be created, read or removed."""
