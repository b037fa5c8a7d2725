"""Self-checks for exercises.

``check`` tests the reader's function against a list of cases. While the reader's
function is still the untouched stub (it raises NotImplementedError) it runs the hidden
reference solution against the same cases instead, and says so plainly: the checks and
the solution are proven in CI, and a reader is never told they passed when they did not.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field


@dataclass
class Case:
    """Arguments for one call and what it must return (or raise, if ``raises`` is set)."""

    args: tuple = ()
    expected: object = None
    kwargs: dict = field(default_factory=dict)
    raises: type[BaseException] | None = None

    def describe(self, name: str) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        text = f"{name}({', '.join(parts)})"
        return text if len(text) <= 120 else text[:117] + "..."


class CheckFailed(AssertionError):
    """The reader's solution returned the wrong thing for a case."""


def _as_case(case) -> Case:
    if isinstance(case, Case):
        return case
    args, expected = case
    return Case(args if isinstance(args, tuple) else (args,), expected)


def _is_stub(fn, first: Case) -> bool:
    try:
        result = fn(*first.args, **first.kwargs)
        if inspect.iscoroutine(result):
            result.close()
    except NotImplementedError:
        return True
    except Exception:
        return False
    return False


def _verify(fn, case: Case, name: str, compare) -> None:
    call = case.describe(name)
    if case.raises is not None:
        try:
            fn(*case.args, **case.kwargs)
        except case.raises:
            return
        except Exception as exc:
            raise CheckFailed(f"{call} raised {type(exc).__name__}: {exc}; expected {case.raises.__name__}") from exc
        raise CheckFailed(f"{call} returned normally; expected it to raise {case.raises.__name__}")
    got = fn(*case.args, **case.kwargs)
    if not compare(got, case.expected):
        raise CheckFailed(f"{call} returned {got!r}; expected {case.expected!r}")


def check(reader, reference, cases, *, name: str | None = None, compare=None) -> None:
    """Check ``reader`` (or, while it is the stub, ``reference``) against ``cases``.

    Prints which one was checked and raises CheckFailed on the first wrong answer.
    ``compare(got, expected)`` defaults to ``==``.
    """
    cases = [_as_case(c) for c in cases]
    compare = compare or (lambda got, expected: got == expected)
    name = name or getattr(reader, "__name__", "solution")
    if _is_stub(reader, cases[0]):
        for case in cases:
            _verify(reference, case, name, compare)
        print(
            f"{name}: still the stub (it raises NotImplementedError). The hidden reference "
            f"solution passes all {len(cases)} cases; write yours and re-run this cell."
        )
        return
    for case in cases:
        _verify(reader, case, name, compare)
    print(f"{name}: all {len(cases)} cases pass with your solution.")


async def _averify(fn, case: Case, name: str, compare) -> None:
    async def call():
        return await fn(*case.args, **case.kwargs)

    call_text = case.describe(name)
    if case.raises is not None:
        try:
            await call()
        except case.raises:
            return
        except Exception as exc:
            raise CheckFailed(f"{call_text} raised {type(exc).__name__}: {exc}; expected {case.raises.__name__}") from exc
        raise CheckFailed(f"{call_text} returned normally; expected it to raise {case.raises.__name__}")
    got = await call()
    if not compare(got, case.expected):
        raise CheckFailed(f"{call_text} returned {got!r}; expected {case.expected!r}")


async def acheck(reader, reference, cases, *, name: str | None = None, compare=None) -> None:
    """``check`` for coroutine functions: ``await acheck(my_fetch, _reference, cases)``."""
    cases = [_as_case(c) for c in cases]
    compare = compare or (lambda got, expected: got == expected)
    name = name or getattr(reader, "__name__", "solution")
    try:
        await reader(*cases[0].args, **cases[0].kwargs)
        stub = False
    except NotImplementedError:
        stub = True
    except Exception:
        stub = False
    target = reference if stub else reader
    for case in cases:
        await _averify(target, case, name, compare)
    if stub:
        print(
            f"{name}: still the stub (it raises NotImplementedError). The hidden reference "
            f"solution passes all {len(cases)} cases; write yours and re-run this cell."
        )
        return
    print(f"{name}: all {len(cases)} cases pass with your solution.")


def check_prediction(prediction, measured, *, model, tolerance: float = 0.0, what: str = "the result") -> bool:
    """Predict, run, explain: compare the reader's recorded ``prediction`` with ``measured``.

    ``model`` is what the chapter's own explanation predicts for the same run; it is always
    checked against ``measured`` (within the relative ``tolerance``), so CI proves that the
    reasoning the chapter teaches matches what really happens, and raises CheckFailed if not.
    A wrong prediction is not an error: the verdict says so, and the reader writes down why.
    Returns whether the reader's prediction was within tolerance (False while it is None).
    """
    def close(a, b) -> bool:
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return abs(a - b) <= tolerance * max(abs(b), 1e-12)
        return a == b

    if not close(measured, model):
        raise CheckFailed(f"{what}: measured {measured!r}, but the chapter's reasoning predicts {model!r}")
    if prediction is None:
        print(f"{what}: measured {measured!r}. Record your prediction before the run next time "
              "(it is None), then compare.")
        return False
    within = close(prediction, measured)
    verdict = "matches" if within else "does not match"
    margin = f" (tolerance ±{tolerance:.0%})" if tolerance else ""
    print(f"{what}: you predicted {prediction!r}, the run measured {measured!r}: your prediction {verdict}{margin}.")
    if not within:
        print("Find the step in your reasoning that differs from the run, and write it down.")
    return within
