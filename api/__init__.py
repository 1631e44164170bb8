"""FastAPI adapter: HTTP routes over Herald's domain services."""
