from pathlib import Path

import pytest

from compose.devenv import DevEnvNotFound, find_dev_env, read_dev_env

pytestmark = pytest.mark.unit


def dev_env(root: Path, text: str = "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1\n") -> Path:
    env_file = root / ".orchestration" / "dev" / "env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text(text)
    return env_file


def test_the_nearest_dev_env_upwards_from_the_working_directory_is_found(tmp_path: Path) -> None:
    outer = dev_env(tmp_path)
    nested = tmp_path / "docs" / "examples"
    nested.mkdir(parents=True)
    assert find_dev_env(nested, {}) == outer
    assert find_dev_env(tmp_path, {}) == outer
    inner = dev_env(tmp_path / "docs")
    assert find_dev_env(nested, {}) == inner


def test_orchestration_dev_dir_names_the_state_dir_and_wins(tmp_path: Path) -> None:
    dev_env(tmp_path)
    state = tmp_path / "elsewhere"
    state.mkdir()
    (state / "env").write_text("A=1\n")
    assert find_dev_env(tmp_path, {"ORCHESTRATION_DEV_DIR": str(state)}) == state / "env"
    # Relative to the working directory, like --state-dir.
    assert find_dev_env(tmp_path, {"ORCHESTRATION_DEV_DIR": "elsewhere"}) == state / "env"
    with pytest.raises(DevEnvNotFound, match="ORCHESTRATION_DEV_DIR=missing"):
        find_dev_env(tmp_path, {"ORCHESTRATION_DEV_DIR": "missing"})


def test_nothing_found_says_where_it_looked_and_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(DevEnvNotFound) as caught:
        find_dev_env(tmp_path, {})
    message = str(caught.value)
    assert str(tmp_path) in message
    assert "ORCHESTRATION_DEV_DIR" in message
    assert "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS" in message


def test_an_env_file_is_key_value_lines(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("A=1\nB=postgresql://u@h:5/db?x=y\n\nnot a line\n")
    assert read_dev_env(env_file) == {"A": "1", "B": "postgresql://u@h:5/db?x=y"}
