"""A tiny TAP producer: ok/not ok lines, diagnostics, and an exit code that says if all passed."""
import sys


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        desc = desc.replace("\n", "\\n").replace("\r", "\\r")
        if cond:
            print(f"ok {self.n} - {desc}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {desc}", flush=True)
            if diag:
                self.diag(diag)
        return bool(cond)

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, f"got:  {got!r}\nwant: {want!r}")

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print(f"# {line}", flush=True)

    def done(self):
        """Prints the plan and exits: 0 only if at least one test ran and none failed."""
        print(f"1..{self.n}", flush=True)
        if self.failed:
            self.diag(f"{self.failed} of {self.n} failed")
        sys.exit(1 if self.failed or self.n == 0 else 0)
