"""Root conftest: loads the shared real-server fixtures for every package's tests."""

pytest_plugins = ["agora_testing.fixtures"]
