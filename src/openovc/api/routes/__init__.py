"""One router per collection, with functions named after the spec's operationIds."""
