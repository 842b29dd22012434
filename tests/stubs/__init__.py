"""Local stand-ins for the external HTTP APIs (Polymarket, Telegram) used by tests and benchmarks."""
