"""Adapters: the database, data sources, Telegram, the Pushgateway. They know nothing of rules."""
