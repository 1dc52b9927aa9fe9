"""Use cases: what each API operation does, in terms of domain rules and ports."""
