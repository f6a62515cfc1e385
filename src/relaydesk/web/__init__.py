"""The browser client: static ES modules, HTML and CSS, served by the broker."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
