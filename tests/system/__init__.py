"""System tests: the whole stack booted with `agora up`."""
