"""guard: stop command-jacking at the moment a command is about to run.

The public API is small and lazy (``guard check`` must start fast):

    from guard.decide import decide
    verdict = decide("aws")          # -> guard.model.Verdict
"""

__version__ = "0.1.0"
