"""The HTTP layer: FastAPI routes, wire formats and errors (the only package that imports fastapi)."""
