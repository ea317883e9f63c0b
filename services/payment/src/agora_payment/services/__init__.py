"""Use cases: charging orders and refunding charges at the payment provider."""
