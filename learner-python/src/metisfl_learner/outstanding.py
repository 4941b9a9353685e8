"""The updates a learner has sent and not yet had answered, in the order sent.

Each is kept until the gateway acknowledges it (ACCEPTED or DUPLICATE, after the checkpoint that
holds it) or refuses it, and is sent again after a reconnect. An asynchronous ("pipelined")
update lets the learner take its next task before its answer, up to ``MAX_PIPELINED``
unanswered; any other update (synchronous rounds, the initial model) is answered before anything
else starts. Not thread-safe: the learner's task loop owns it; gRPC's threads only queue the
answers. The Java learner's ``internal.OutstandingUpdates`` is the same.
"""

from collections import OrderedDict

# The gateway hands the next asynchronous task at accept time only while fewer than this many of
# a learner's updates await their checkpoint (TaskDispatch.MAX_UNACKNOWLEDGED_ASYNC); the learner
# never goes beyond it on its own (a gateway that restarted forgot its count).
MAX_PIPELINED = 2


class Entry:
    """One unanswered update; ``attempt`` grows with every (re)send, ``sent_on`` is the
    connection (the learner's own count of reconnects and joins) it was last sent on."""

    __slots__ = ("task_id", "round", "pipelined", "payload", "first_sent", "attempt", "sent_on")

    def __init__(self, task_id, rnd, pipelined, payload, now, connection):
        self.task_id = task_id
        self.round = rnd
        self.pipelined = pipelined
        self.payload = payload
        self.first_sent = now
        self.attempt = 1
        self.sent_on = connection


class OutstandingUpdates:
    def __init__(self):
        self._entries = OrderedDict()
        self.peak = 0

    def may_start_training(self, pipelined: bool) -> bool:
        """With nothing unanswered always; a pipelined task also while fewer than
        ``MAX_PIPELINED`` pipelined updates are unanswered."""
        return not self._entries or (
            pipelined and self._all_pipelined() and len(self._entries) < MAX_PIPELINED
        )

    def may_start_other(self) -> bool:
        """A task that uploads no update (an evaluation) waits only for an update that is
        answered before anything else."""
        return self._all_pipelined()

    def add(self, task_id, rnd, pipelined, payload, now, connection) -> Entry:
        if task_id in self._entries:
            raise ValueError("an update of task %s is already awaiting its answer" % task_id)
        if not self.may_start_training(pipelined):
            raise ValueError(
                "cannot send the update of task %s %s: %s unanswered"
                % (task_id, "before an answer" if pipelined else "next to others", self.describe(now))
            )
        e = Entry(task_id, rnd, pipelined, payload, now, connection)
        self._entries[task_id] = e
        self.peak = max(self.peak, len(self._entries))
        return e

    def resend(self, entry: Entry, connection) -> int:
        if self._entries.get(entry.task_id) is not entry:
            raise ValueError("task %s is no longer unanswered" % entry.task_id)
        entry.sent_on = connection
        entry.attempt += 1
        return entry.attempt

    def get(self, task_id):
        return self._entries.get(task_id)

    def remove(self, task_id):
        return self._entries.pop(task_id, None)

    def __contains__(self, task_id):
        return task_id in self._entries

    def __len__(self):
        return len(self._entries)

    def in_order(self):
        return list(self._entries.values())

    def _all_pipelined(self):
        return all(e.pipelined for e in self._entries.values())

    def describe(self, now) -> str:
        """For log lines: ``2 (task a-3 of round 5, 1.2 s; task a-4 of round 5, 0.1 s)``."""
        if not self._entries:
            return "none"
        return "%d (%s)" % (
            len(self._entries),
            "; ".join(
                "task %s of round %d, %.1f s" % (e.task_id, e.round, now - e.first_sent)
                for e in self._entries.values()
            ),
        )
