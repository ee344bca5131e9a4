"""Console pages, one module per task; each adds its routes to ``cdp.console.web.bp``."""
