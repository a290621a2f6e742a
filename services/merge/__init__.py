"""Merging one person's accounts into one identity (programme decision 2), undoing a merge,
and suggesting which accounts to merge. No Qt: the GUI wizard and the CLI call these."""

from services.merge.apply import (
    MergeResult,
    UnmergeRefused,
    UnmergeResult,
    apply_merge,
    merge,
    merge_history,
    resolve_subject,
    unmerge,
)
from services.merge.detect import Candidate, Suggestion, suggest_merges
from services.merge.plan import AccountSnapshot, MergePlan, PlanConflict, plan_merge
from services.merge.suggest import StoreSuggestion, SuggestedAccount, suggest_for_store

__all__ = [
    "AccountSnapshot", "Candidate", "MergePlan", "MergeResult", "PlanConflict",
    "StoreSuggestion", "SuggestedAccount", "Suggestion", "UnmergeRefused", "UnmergeResult",
    "apply_merge", "merge", "merge_history", "plan_merge", "resolve_subject", "suggest_for_store",
    "suggest_merges", "unmerge",
]
