"""``python -m jukinet.cli``: the jukinet command."""

from jukinet.cli import main

main()
