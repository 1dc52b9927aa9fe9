"""The content model: what every VM and backup holds, as content-addressed pieces, and what a place stores."""
