"""User-side clients: publish frames, listen to alerts, query results."""
