"""The public entry point: a learner that joins a federation and works for it."""

from typing import Optional, Sequence, Union

from metisfl_learner.model import Model
from metisfl_learner.options import LearnerOptions
from metisfl_learner.session import LearnerSession
from metisfl_learner.types import LearnerSummary


class Learner:
    """Joins the federation at ``gateway`` and trains and evaluates ``model`` for it until the
    federation ends (or close() is called).

    >>> learner = Learner(model, "127.0.0.1:50051", name="alice")
    >>> summary = learner.run()   # blocks; raises LearnerError when it cannot go on

    ``gateway`` is "host:port", or several (a list, or comma-separated) tried round-robin when a
    connection fails.
    """

    def __init__(
        self,
        model: Model,
        gateway: Union[str, Sequence[str]],
        name: str = "",
        options: Optional[LearnerOptions] = None,
        **session_args
    ):
        if not isinstance(model, Model):
            raise TypeError(
                "model must be a metisfl_learner.Model (or one of its adapters: NumpyModel,"
                " TorchModel), got %s" % type(model).__name__
            )
        self._session = LearnerSession(gateway, name, model, options, **session_args)

    def run(self) -> LearnerSummary:
        """Works through the federation's tasks until its Shutdown; returns a summary."""
        return self._session.run()

    @property
    def unacknowledged_updates(self) -> int:
        """Updates sent that the gateway has neither acknowledged (after the checkpoint that holds
        them) nor refused yet. In an asynchronous federation the learner trains its next task
        meanwhile, with at most two unacknowledged; otherwise it waits for each answer."""
        return self._session.unacknowledged_updates

    def close(self) -> None:
        """Leaves the federation and releases the connection (callable from another thread)."""
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
