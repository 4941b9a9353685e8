import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_sessionfinish(session, exitstatus):
    session.config._metisfl_exitstatus = int(exitstatus)


def pytest_unconfigure(config):
    # gRPC Python's background threads can crash the interpreter's own teardown (exit code 139
    # was seen once, after every test had passed). The results are final here: leave without it.
    status = getattr(config, "_metisfl_exitstatus", None)
    if status is not None:
        import os
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
