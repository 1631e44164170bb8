"""The merchant console: server-rendered pages over the domain's actions."""
