"""Who may call: CDS Hooks JWT verification with a replay cache, and CORS."""
