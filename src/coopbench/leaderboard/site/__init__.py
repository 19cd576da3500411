"""Building blocks of the HTML site (``coopbench.leaderboard.html.write_html``): page model
and file names, curve figures, reproduction commands, static ``style.css`` and ``sort.js``."""
