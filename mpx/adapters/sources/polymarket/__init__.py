"""The real Polymarket source: Gamma ``/events`` for markets, CLOB ``/books`` for order books."""
