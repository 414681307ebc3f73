"""The application layer: the CLI and the API call these functions and nothing below them."""
