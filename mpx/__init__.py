"""MarketPulse-X: one-pass batch jobs that watch Polymarket prediction markets for mispricing."""

__version__ = "0.1.0"
