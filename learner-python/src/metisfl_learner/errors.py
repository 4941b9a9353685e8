"""The library's exceptions."""


class LearnerError(Exception):
    """The learner cannot go on; the message says why and what to do."""


class ModelMismatchError(LearnerError):
    """The federation's model does not have this learner's tensors (names, shapes or dtypes)."""
