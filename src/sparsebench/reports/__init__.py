"""Reports: `sparsebench report` (figures + claims table from stored records) and
`sparsebench validate` (measure what every implemented claim needs, print the verdicts).

Modules: data (loading, grouping, captions), plots (matplotlib figures), page (index.md/html),
build (one report folder), validate (claim -> catalogue cases -> verdicts), cli (subcommands),
synthetic (records with known answers for tests and layout previews).
"""

from .build import build_report

__all__ = ["build_report"]
