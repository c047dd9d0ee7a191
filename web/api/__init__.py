"""The read interfaces: REST under /api/v1 (more to come: GraphQL, SQL, CSV, MCP)."""
