"""Check the locked dependencies against known vulnerabilities (pip-audit, PyPI's
advisory data). Fails on any known vulnerability. When the advisory service cannot be
reached (a machine without internet beyond a package mirror), says so loudly and lists
what went unaudited, instead of pretending all is well."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "audit.json"
        run = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "pip-audit"), "-r", str(ROOT / "requirements.lock"),
             "--no-deps", "--disable-pip", "--progress-spinner", "off", "-f", "json", "-o",
             str(report)], capture_output=True, text=True)
        if not report.exists():
            print(f"pip-audit did not run:\n{run.stderr[-2000:]}", file=sys.stderr)
            return 1
        dependencies = json.loads(report.read_text())["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            print(f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} "
                  f"(fixed in {', '.join(vuln.get('fix_versions') or ['no release yet'])})")
    audited = len(dependencies) - len(skipped)
    if skipped:
        print(f"WARNING: {len(skipped)} of {len(dependencies)} locked dependencies were NOT "
              "audited: the vulnerability data could not be reached from this machine "
              f"({skipped[0]['skip_reason']}).")
    print(f"pip-audit: {audited} dependencies audited, {len(vulnerable)} vulnerable.")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
