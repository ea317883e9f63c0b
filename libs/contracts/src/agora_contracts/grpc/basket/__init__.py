"""Generated gRPC stubs (``./agora proto``); do not edit."""
