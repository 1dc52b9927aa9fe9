"""The fuzz tier: schemathesis over the server's own OpenAPI documents, against real servers."""
