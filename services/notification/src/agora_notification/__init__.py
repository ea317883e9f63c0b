"""Agora notification service: welcome, order confirmation and cancellation e-mails."""
