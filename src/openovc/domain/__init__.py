"""Pure domain model: no web framework, database or validation library imports."""
