"""Kalshi: public market data (events, series fees, order books) through the Trade API v2."""
