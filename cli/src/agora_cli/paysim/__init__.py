"""The payment provider simulator: a small card processor (tokens, charges, refunds) with faults."""
