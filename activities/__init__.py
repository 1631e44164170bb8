"""Temporal activities: every side effect Herald's workflows have (database, delivery, rendering)."""
