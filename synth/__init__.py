"""A synthetic engineering organisation: a seeded history (`model`), emitted as signed vendor
webhook deliveries (`emit`) and streamed to a running server (`stream`, `demo`)."""
