"""What the pages ask of the other services: each module wraps one service's REST API."""
