"""Identity resolution: accounts into persons (deterministic rules in sql/identity/, the
probabilistic matcher and the clustering here)."""
