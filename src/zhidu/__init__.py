"""zhidu (制度): customer management that runs on a company's own written regulations."""

__version__ = "0.1.0"
