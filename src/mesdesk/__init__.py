"""mesdesk: MES futures intraday research and paper-trading desk."""

__version__ = "0.1.0"
