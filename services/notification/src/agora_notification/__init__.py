"""Agora notification service: welcome e-mails sent when users register."""
