"""Unit tests of the stack configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora_cli.config import (
    Ports,
    StackBusyError,
    StackConfig,
    data_dir_from,
    load_config,
    ports_from_env,
    resolve_config,
    save_config,
    stack_lock,
)


def test_ports_from_env_empty_env_returns_non_standard_defaults() -> None:
    ports = ports_from_env({})
    assert ports == Ports()
    assert (ports.gateway, ports.postgres, ports.redis, ports.nats) == (8080, 15432, 16380, 14222)
    assert (ports.nats_monitor, ports.gateway_admin, ports.service_base) == (18222, 18080, 8101)


def test_ports_from_env_overrides_returns_given_ports() -> None:
    ports = ports_from_env({"AGORA_POSTGRES_PORT": "45432", "AGORA_GATEWAY_PORT": " 9090 "})
    assert (ports.postgres, ports.gateway, ports.redis) == (45432, 9090, 16380)


def test_ports_from_env_standard_port_raises() -> None:
    with pytest.raises(ValueError, match="AGORA_POSTGRES_PORT: port 5432"):
        ports_from_env({"AGORA_POSTGRES_PORT": "5432"})


def test_ports_from_env_not_a_number_raises() -> None:
    with pytest.raises(ValueError, match="AGORA_REDIS_PORT='abc' is not a port number"):
        ports_from_env({"AGORA_REDIS_PORT": "abc"})


def test_ports_from_env_duplicate_ports_raises() -> None:
    with pytest.raises(ValueError, match="must all differ"):
        ports_from_env({"AGORA_REDIS_PORT": "15432"})


def test_data_dir_from_argument_wins_over_env(tmp_path: Path) -> None:
    chosen = data_dir_from(str(tmp_path / "arg"), {"AGORA_DATA_DIR": str(tmp_path / "env")})
    assert chosen == tmp_path / "arg"


def test_data_dir_from_env_without_argument_returns_env(tmp_path: Path) -> None:
    assert data_dir_from(None, {"AGORA_DATA_DIR": str(tmp_path / "env")}) == tmp_path / "env"


def test_data_dir_from_nothing_returns_dot_agora_in_repo() -> None:
    chosen = data_dir_from(None, {})
    assert chosen.name == ".agora"
    assert (chosen.parent / "pyproject.toml").exists()


def test_save_config_then_load_returns_same_config(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, Ports(gateway=9999), profile="production", infra_only=True)
    save_config(config)
    assert load_config(tmp_path) == config


def test_load_config_missing_file_returns_none(tmp_path: Path) -> None:
    assert load_config(tmp_path) is None


def test_resolve_config_without_saved_config_reads_env(tmp_path: Path) -> None:
    env = {"AGORA_DATA_DIR": str(tmp_path), "AGORA_NATS_PORT": "44222"}
    config = resolve_config(None, env)
    assert (config.data_dir, config.ports.nats, config.profile) == (tmp_path, 44222, "development")


def test_stack_config_paths_live_under_data_dir(tmp_path: Path) -> None:
    config = StackConfig(tmp_path)
    assert config.log_file("identity") == tmp_path / "logs" / "identity.log"
    assert config.pid_file("redis") == tmp_path / "run" / "redis.pid"


def test_stack_lock_second_holder_raises_busy(tmp_path: Path) -> None:
    with (
        stack_lock(tmp_path),
        pytest.raises(StackBusyError, match="another agora command"),
        stack_lock(tmp_path),
    ):
        pass


def test_stack_lock_released_after_block_can_be_taken_again(tmp_path: Path) -> None:
    with stack_lock(tmp_path):
        pass
    with stack_lock(tmp_path):
        assert (tmp_path / "run" / "agora.lock").exists()


def test_ports_from_env_mail_defaults_below_ephemeral_and_not_standard_mail() -> None:
    ports = ports_from_env({})
    assert (ports.smtp, ports.mail_http) == (11025, 18025)
    assert not {ports.smtp, ports.mail_http} & {25, 465, 587, 1025, 8025}
    assert max(ports.smtp, ports.mail_http) < 32768


def test_ports_from_env_mail_overrides_returns_given_ports() -> None:
    ports = ports_from_env({"AGORA_SMTP_PORT": "12025", "AGORA_MAIL_HTTP_PORT": "19025"})
    assert (ports.smtp, ports.mail_http) == (12025, 19025)


def test_ports_from_env_paysim_default_and_override() -> None:
    assert ports_from_env({}).paysim == 18090
    assert ports_from_env({"AGORA_PAYSIM_PORT": "19090"}).paysim == 19090
    with pytest.raises(ValueError, match="must all differ"):
        ports_from_env({"AGORA_PAYSIM_PORT": "18025"})
