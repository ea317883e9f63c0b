"""Agora's shared contracts: the CloudEvents envelope and versioned event payloads.

One module per producing service (``identity``, later ``catalog``, ``ordering`` ...). A payload
class names its CloudEvents ``type`` and schema version; consumers validate against the same class.
"""
