"""Operations: Prometheus metrics, JSON logs and TOML configuration, shared by the
embedded server, the broker and the relay (docs/operators.md, "Several servers")."""
