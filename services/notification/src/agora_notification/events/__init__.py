"""Event subscriptions: which events the service consumes and what it does with them."""
