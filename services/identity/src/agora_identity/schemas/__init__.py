"""Identity's request and response DTOs."""
