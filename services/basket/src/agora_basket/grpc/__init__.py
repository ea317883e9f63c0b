"""The internal gRPC API of the basket service."""
