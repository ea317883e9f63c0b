"""Agora payment service: charges orders at the payment provider and refunds them."""
