"""Documented exit codes (docs/migrate.md lists them too); cli.py is the only sys.exit."""

from __future__ import annotations

OK = 0
ERROR = 1  # unexpected failure: read the message, nothing was rolled back automatically
USAGE = 2  # bad arguments (argparse)
REFUSED = 3  # pre-flight refused: nothing was changed
STALE_PLAN = 4  # no plan, or an input changed since planning: run plan again
LOCKED = 5  # another apply/rollback/backup holds the lock
ROLLED_BACK = 6  # a step or the final verification failed; the run was rolled back
VERIFY_FAILED = 7  # verify found problems (nothing changed by verify itself)
ROLLBACK_FAILED = 8  # rollback could not finish: manual attention, see status
BACKUP_FAILED = 9  # a dump or archive failed its check; the folder is kept for inspection
ABORTED = 10  # the operator declined, or no TTY to ask and no --yes

DESCRIPTIONS: dict[int, str] = {
    OK: "success",
    ERROR: "unexpected error",
    USAGE: "usage error",
    REFUSED: "pre-flight refused, nothing changed",
    STALE_PLAN: "no plan or stale plan, run plan again",
    LOCKED: "another run holds the lock",
    ROLLED_BACK: "failed and rolled back",
    VERIFY_FAILED: "verification failed",
    ROLLBACK_FAILED: "rollback incomplete, manual attention needed",
    BACKUP_FAILED: "backup failed verification",
    ABORTED: "aborted by the operator",
}


class MigrateError(Exception):
    """An expected failure with the exit code it maps to."""

    def __init__(self, message: str, code: int = ERROR) -> None:
        super().__init__(message)
        self.code = code
