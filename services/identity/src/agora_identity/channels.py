"""The events identity sends through the broker; its AsyncAPI document is generated from this."""

from __future__ import annotations

from agora_chassis.messaging.asyncapi import ServiceChannels
from agora_contracts.identity import UserRegisteredV1

CHANNELS = ServiceChannels(service="identity", publishes=(UserRegisteredV1,))
"""Published through the outbox (``services/auth.py`` adds ``user.registered`` on registration)."""
