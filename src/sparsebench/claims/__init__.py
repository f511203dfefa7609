"""Paper claims: the data (claims.toml + data.py), their evaluation against records
(evaluate.py, torch-free) and `sparsebench validate` (validate.py), which measures what every
implemented claim needs. Reports only read records and these verdicts."""

from .data import COMPARISONS, METRICS, VERDICTS, Claim, Measure, Verdict, find_claims_file, load_claims, parse_claims
from .evaluate import evaluate, evaluate_all

__all__ = [
    "METRICS", "COMPARISONS", "VERDICTS", "Claim", "Measure", "Verdict",
    "find_claims_file", "load_claims", "parse_claims", "evaluate", "evaluate_all",
]
