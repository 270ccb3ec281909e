"""In-memory fakes of the ports handlers write through (the outbox, the command keys, each service's
repository), so every command and event handler has unit tests that run in milliseconds without a broker
or a database. They keep the ports' contracts (the outbox's same-id rule, a reused key's 409); the
integration tests keep proving the SQL behind them."""
