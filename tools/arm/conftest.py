"""Print what ran per op and variant at the end of a tools/arm/test_replay.py session."""

import platform


def pytest_report_header(config):
    return [f"ARM tier replay on {platform.machine()}"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    import sys

    mod = sys.modules.get("test_replay")
    if mod is None:
        return
    tr = terminalreporter
    tr.section("kernel variants replayed (per op)")
    tr.write_line(f"extension: compiled={list(mod.KERNELS.compiled_isas())} usable={mod.USABLE}")
    for (op, isa, threads), (passed, failed) in sorted(mod.TALLY.items()):
        tr.write_line(f"{op:40s} isa={isa:7s} threads={threads}  {passed:4d} passed {failed:4d} failed")
    skipped = sum(op.get("skipped", 0) for op in mod.MANIFEST["ops"])
    tr.write_line(
        f"{sum(len(o['cases']) for o in mod.MANIFEST['ops'])} recorded cases "
        f"(inputs <= {mod.MANIFEST['max_elements']} elements; {skipped} larger registry cases not recorded)"
    )
