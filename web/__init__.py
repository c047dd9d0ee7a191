"""The ASGI application: webhooks, GraphQL, REST, MCP, health and metrics."""
