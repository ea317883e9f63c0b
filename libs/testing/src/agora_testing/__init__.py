"""Test support for every Agora package: real-server pytest fixtures and test tokens.

Only the workspace's dev dependency group installs this package; no service or CLI depends on
it, so token forging never ships with a service (import-linter enforces that no runtime package
imports it).
"""
