"""The one exception type for user mistakes.

A `UserError` is bad input (an unknown map, a typo'd config key, a run folder holding a
different run): the CLI prints its message as one paragraph and exits with code 2, with no
traceback. Anything else that escapes is a bug in the suite and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user; the message says what was wrong and what is valid."""


def did_you_mean(word: str, valid: Iterable[str]) -> str:
    """A ' Did you mean X?' hint (or '') for a misspelt name among `valid`."""
    close = difflib.get_close_matches(str(word), [str(v) for v in valid], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def choice_error(kind: str, value: object, valid: Iterable[str]) -> UserError:
    """A UserError for a value that is not one of a fixed set of names."""
    valid = sorted(str(v) for v in valid)
    return UserError(
        f"Unknown {kind} '{value}'.{did_you_mean(str(value), valid)} Valid {kind}s: {', '.join(valid)}."
    )
